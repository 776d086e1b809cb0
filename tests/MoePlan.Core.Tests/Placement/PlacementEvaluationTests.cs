using MoePlan.Core.Placement;
using Xunit;
using static MoePlan.Core.Tests.Placement.PlacementTestInputs;

namespace MoePlan.Core.Tests.Placement;

public class PlacementEvaluationTests
{
    /// <summary>
    /// 4 experts, 2 ranks of 2 slots, one rank per node. Placed on A = [10, 1, 2, 8] (layer 0) and [1, 10, 8, 2]
    /// (layer 1), the one best split is {10, 1} | {8, 2} (11 vs 10): experts {0, 1} | {2, 3} in layer 0 and
    /// {1, 0} | {2, 3} in layer 1. Every algorithm finds it (greedy heaviest-first gives it directly).
    /// </summary>
    private static readonly ExpertLoads Placed = Table([10, 1, 2, 8], [1, 10, 8, 2]);

    private static ExpertPlacement PlaceWith(IPlacementAlgorithm algorithm) =>
        Place(algorithm, Problem(Placed, new PlacementShape(PhysicalExperts: 4, Devices: 2, DevicesPerNode: 1)));

    public static TheoryData<string> Algorithms => [.. PlacementAlgorithms.Names];

    [Theory]
    [MemberData(nameof(Algorithms))]
    public void OtherLoads_AreMeasuredOnThePlacementMadeFromTheFirst(string name)
    {
        var placement = PlaceWith(PlacementAlgorithms.Find(name)!);
        Assert.All(placement.Layers, l => Assert.Equal([[0, 1], [2, 3]], l.DeviceExperts.Select(d => d.Order().ToArray()).OrderBy(d => d[0])));

        // B, layer 0 = [1, 6, 2, 3]: ranks {0, 1} = 7 and {2, 3} = 5, mean 6 -> 7/6. Layer 1 = [3, 3, 3, 3]: 6 and 6 -> 1.
        // Mean (7/6 + 1) / 2 = 13/12; max 7/6 at layer 0; overall (7 + 6) / (6 + 6) = 13/12.
        // Cross-node: every expert on one of two nodes, so half of any expert's dispatches cross: 0.5.
        // C, layer 0 = [4, 0, 4, 0]: 4 and 4 -> 1; layer 1 = [0, 0, 0, 6]: 0 and 6, mean 3 -> 2.
        // Mean 1.5, max 2 at layer 1, overall (4 + 6) / (4 + 3) = 10/7.
        var b = Table([1, 6, 2, 3], [3, 3, 3, 3]);
        var c = Table([4, 0, 4, 0], [0, 0, 0, 6]);
        var evaluation = PlacementEvaluation.Evaluate(placement, [new("b", b), new("c", c)]);

        var onB = evaluation.Loads[0].Metrics;
        Assert.Equal("b", evaluation.Loads[0].Name);
        Assert.Equal(13.0 / 12, onB.MeanLayerImbalance, 12);
        Assert.Equal(7.0 / 6, onB.WorstLayerImbalance, 12);
        Assert.Equal(0, onB.WorstLayerId);
        Assert.Equal(13.0 / 12, onB.Imbalance, 12);
        Assert.Equal(0.5, onB.CrossNodeShare, 12);

        var onC = evaluation.Loads[1].Metrics;
        Assert.Equal(1.5, onC.MeanLayerImbalance, 12);
        Assert.Equal(2.0, onC.WorstLayerImbalance, 12);
        Assert.Equal(1, onC.WorstLayerId);
        Assert.Equal(10.0 / 7, onC.Imbalance, 12);

        Assert.Equal(((13.0 / 12) + 1.5) / 2, evaluation.Mean.MeanLayerImbalance, 12);
        Assert.Equal(((7.0 / 6) + 2.0) / 2, evaluation.Mean.WorstLayerImbalance, 12);
        Assert.Equal(((13.0 / 12) + (10.0 / 7)) / 2, evaluation.Mean.Imbalance, 12);
        Assert.Equal(0.5, evaluation.Mean.CrossNodeShare, 12);
    }

    [Fact]
    public void TheLoadsItWasMadeFrom_GiveThePlacementsOwnMetrics()
    {
        var placement = PlaceWith(PlacementAlgorithms.Default);
        var own = PlacementMetrics.Compute(Placed, placement);
        var evaluation = PlacementEvaluation.Evaluate(placement, [new("a", Placed)]);

        // 11 / 10.5 in both layers.
        Assert.Equal(11 / 10.5, own.MeanLayerImbalance, 12);
        Assert.Equal(own.MeanLayerImbalance, evaluation.Mean.MeanLayerImbalance);
        Assert.Equal(own.Imbalance, evaluation.Mean.Imbalance);
    }

    [Fact]
    public void NoLoads_IsAProgrammingError()
    {
        Assert.Throws<ArgumentException>(() => PlacementEvaluation.Evaluate(PlaceWith(PlacementAlgorithms.Default), []));
    }
}
