using System.Collections.Immutable;

namespace MoePlan.Core.Placement;

/// <summary>Metrics of one layer of a placement.</summary>
/// <param name="TotalLoad">Sum of the layer's expert loads.</param>
/// <param name="MaxDeviceLoad">Load of the busiest device (a copy carries its expert's load / copies).</param>
/// <param name="MeanDeviceLoad">TotalLoad / devices.</param>
/// <param name="Imbalance">MaxDeviceLoad / MeanDeviceLoad (1 = perfect; 1 for a layer without load).</param>
/// <param name="CrossNodeShare">See <see cref="PlacementMetrics"/>.</param>
/// <param name="SlotsPerDevice">Copies held by each device in this layer.</param>
/// <param name="DeviceLoads">Load of each device.</param>
public sealed record LayerMetrics(
    int LayerId,
    double TotalLoad,
    double MaxDeviceLoad,
    double MeanDeviceLoad,
    double Imbalance,
    double CrossNodeShare,
    ImmutableArray<int> SlotsPerDevice,
    ImmutableArray<double> DeviceLoads);

/// <summary>
/// How good a placement is for given loads (the loads it was made from, or others: e.g. a prefill placement measured
/// against decode loads). Layers are matched by layer id; placed layers without loads are skipped.
/// <para>
/// <b>Imbalance</b> of a layer: max device load / mean device load, where a device's load is the sum over its copies of
/// (expert load / expert's copies) - tokens split evenly among an expert's copies. MoE step time follows the busiest
/// device, so this is the slowdown over a perfect split. <b>Overall</b>: sum over layers of the max device load divided by
/// the sum of the mean device loads (layers with load only) - the slowdown of the whole MoE part of a forward pass.
/// </para>
/// <para>
/// <b>Cross-node share</b> of a layer: take a token on a uniformly random source device and one of its top-k expert choices,
/// drawn in proportion to the experts' loads. The dispatch stays inside the source node when that node holds a copy of the
/// expert (engines route to a same-node copy when there is one - SGLang's static dispatch does), and crosses nodes
/// otherwise. The share is the probability that it crosses:
/// sum over experts e of (load_e / layer load) x (1 - devices on nodes holding e / devices). It is also the expected
/// fraction of a token's top-k dispatches that leave its node. With a single node it is 0. (Without same-node routing,
/// i.e. every copy drawn by its share of the expert's load, the share would be 1 - 1/nodes whatever the placement, which
/// is why the routing rule is part of the definition.) Overall: weighted by layer load.
/// </para>
/// </summary>
public sealed record PlacementMetrics(
    double Imbalance,
    double MeanLayerImbalance,
    double WorstLayerImbalance,
    int WorstLayerId,
    double CrossNodeShare,
    int MinSlotsPerDevice,
    int MaxSlotsPerDevice,
    ImmutableArray<int> TotalSlotsPerDevice,
    ImmutableArray<LayerMetrics> Layers)
{
    public static PlacementMetrics Compute(ExpertLoads loads, ExpertPlacement placement)
    {
        ArgumentNullException.ThrowIfNull(loads);
        ArgumentNullException.ThrowIfNull(placement);
        if (loads.ExpertCount != placement.Experts)
        {
            throw new ArgumentException($"the loads have {loads.ExpertCount} experts, the placement {placement.Experts}", nameof(loads));
        }

        var rowOfLayer = new Dictionary<int, int>();
        for (var i = 0; i < loads.LayerCount; i++)
        {
            rowOfLayer[loads.LayerIds[i]] = i;
        }

        var layers = ImmutableArray.CreateBuilder<LayerMetrics>();
        var totalSlots = new int[placement.Devices];
        foreach (var layer in placement.Layers)
        {
            if (!rowOfLayer.TryGetValue(layer.LayerId, out var row))
            {
                continue;
            }

            layers.Add(ComputeLayer(loads.Layer(row), layer, placement.DevicesPerNode));
            for (var d = 0; d < layer.Devices; d++)
            {
                totalSlots[d] += layer.DeviceExperts[d].Length;
            }
        }

        var loaded = layers.Where(l => l.TotalLoad > 0).ToList();
        var sumMax = loaded.Sum(l => l.MaxDeviceLoad);
        var sumMean = loaded.Sum(l => l.MeanDeviceLoad);
        var sumLoad = loaded.Sum(l => l.TotalLoad);
        var worst = loaded.Count == 0 ? null : loaded.MaxBy(l => l.Imbalance);
        return new PlacementMetrics(
            sumMean > 0 ? sumMax / sumMean : 1.0,
            loaded.Count > 0 ? loaded.Average(l => l.Imbalance) : 1.0,
            worst?.Imbalance ?? 1.0,
            worst?.LayerId ?? -1,
            sumLoad > 0 ? loaded.Sum(l => l.CrossNodeShare * l.TotalLoad) / sumLoad : 0.0,
            layers.Count > 0 ? layers.Min(l => l.SlotsPerDevice.Min()) : 0,
            layers.Count > 0 ? layers.Max(l => l.SlotsPerDevice.Max()) : 0,
            totalSlots.ToImmutableArray(),
            layers.ToImmutable());
    }

    private static LayerMetrics ComputeLayer(ReadOnlySpan<double> weight, LayerPlacement layer, int devicesPerNode)
    {
        var devices = layer.Devices;
        var nodes = devices / devicesPerNode;
        var counts = layer.ReplicaCounts;
        var deviceLoads = new double[devices];
        var onNode = new bool[nodes * weight.Length];
        for (var d = 0; d < devices; d++)
        {
            foreach (var e in layer.DeviceExperts[d])
            {
                deviceLoads[d] += weight[e] / counts[e];
                onNode[((d / devicesPerNode) * weight.Length) + e] = true;
            }
        }

        var total = 0.0;
        var crossing = 0.0;
        for (var e = 0; e < weight.Length; e++)
        {
            total += weight[e];
            var hostingNodes = 0;
            for (var n = 0; n < nodes; n++)
            {
                hostingNodes += onNode[(n * weight.Length) + e] ? 1 : 0;
            }

            crossing += weight[e] * (1.0 - ((double)hostingNodes / nodes));
        }

        var mean = total / devices;
        var max = deviceLoads.Max();
        return new LayerMetrics(
            layer.LayerId,
            total,
            max,
            mean,
            mean > 0 ? max / mean : 1.0,
            total > 0 ? crossing / total : 0.0,
            layer.DeviceExperts.Select(d => d.Length).ToImmutableArray(),
            deviceLoads.ToImmutableArray());
    }
}
