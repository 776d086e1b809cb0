using MoePlan.Core.Placement;
using Xunit;

namespace MoePlan.Core.Tests.Placement;

public class PlacementMetricsTests
{
    [Fact]
    public void Metrics_MatchHandComputedValues()
    {
        // Two devices, one per node (two nodes). Layers 0 and 2 hold d0 = {0, 1}, d1 = {0, 2}; expert 0 has two copies.
        // Layer 0, loads 6, 2, 4: d0 = 6/2 + 2 = 5, d1 = 6/2 + 4 = 7, mean 6 -> imbalance 7/6.
        //   Cross-node: expert 0 is on both nodes (0); experts 1 and 2 are on one node of two (1/2 each):
        //   (2 x 1/2 + 4 x 1/2) / 12 = 0.25.
        // Layer 1 has no load (a dense layer): left out of the overall figures.
        // Layer 2, loads 3, 3, 0: d0 = 1.5 + 3 = 4.5, d1 = 1.5, mean 3 -> 1.5; cross (3 x 1/2) / 6 = 0.25.
        // Overall: (7 + 4.5) / (6 + 3) = 11.5 / 9; mean of layers (7/6 + 1.5) / 2; worst 1.5 (layer 2).
        var loads = PlacementTestInputs.Table([6, 2, 4], [0, 0, 0], [3, 3, 0]);
        var layer = (int id) => new LayerPlacement(id, 3, [[0, 1], [0, 2]]);
        var placement = new ExpertPlacement("hand", 3, 4, 2, 1, [layer(0), layer(1), layer(2)]);
        var metrics = PlacementMetrics.Compute(loads, placement);

        Assert.Equal(7.0 / 6, metrics.Layers[0].Imbalance, 12);
        Assert.Equal([5.0, 7.0], metrics.Layers[0].DeviceLoads.ToArray());
        Assert.Equal(0.25, metrics.Layers[0].CrossNodeShare, 12);
        Assert.Equal(1.0, metrics.Layers[1].Imbalance);
        Assert.Equal(1.5, metrics.Layers[2].Imbalance, 12);
        Assert.Equal(11.5 / 9, metrics.Imbalance, 12);
        Assert.Equal(((7.0 / 6) + 1.5) / 2, metrics.MeanLayerImbalance, 12);
        Assert.Equal((1.5, 2), (metrics.WorstLayerImbalance, metrics.WorstLayerId));
        Assert.Equal(0.25, metrics.CrossNodeShare, 12);
        Assert.Equal((2, 2), (metrics.MinSlotsPerDevice, metrics.MaxSlotsPerDevice));
        Assert.Equal([6, 6], metrics.TotalSlotsPerDevice.ToArray());
    }

    [Fact]
    public void CrossNodeShare_IsZeroOnOneNode_AndOneMinusOneOverNodesWithoutReplicas()
    {
        var loads = PlacementTestInputs.Table([5, 1, 3, 7]);
        var oneNode = new ExpertPlacement("hand", 4, 4, 4, 4, [new LayerPlacement(0, 4, [[0], [1], [2], [3]])]);
        Assert.Equal(0.0, PlacementMetrics.Compute(loads, oneNode).CrossNodeShare);

        // Four nodes of one device, each expert on one node: every dispatch leaves the node with probability 3/4.
        var fourNodes = oneNode with { DevicesPerNode = 1 };
        Assert.Equal(0.75, PlacementMetrics.Compute(loads, fourNodes).CrossNodeShare, 12);
    }

    [Fact]
    public void Metrics_MeasureAPlacementAgainstOtherLoads_ByLayerId()
    {
        // A placement made for layers 3 and 4, measured on loads recorded for layers 4 and 5: only layer 4 counts.
        var measuredOn = ExpertLoads.Create([4, 5], [[3.0, 1], [1.0, 1]]);
        var placement = new ExpertPlacement("hand", 2, 2, 2, 2,
            [new LayerPlacement(3, 2, [[0], [1]]), new LayerPlacement(4, 2, [[0], [1]])]);
        var metrics = PlacementMetrics.Compute(measuredOn, placement);
        var only = Assert.Single(metrics.Layers);
        Assert.Equal(4, only.LayerId);
        Assert.Equal(1.5, only.Imbalance, 12); // loads 3 and 1, mean 2
    }
}
