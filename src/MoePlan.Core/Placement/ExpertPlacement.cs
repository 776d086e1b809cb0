using System.Collections.Immutable;

namespace MoePlan.Core.Placement;

/// <summary>Where the copies (replicas) of one layer's experts live.</summary>
public sealed class LayerPlacement
{
    public LayerPlacement(int layerId, int experts, IEnumerable<IEnumerable<int>> deviceExperts)
    {
        ArgumentNullException.ThrowIfNull(deviceExperts);
        LayerId = layerId;
        DeviceExperts = deviceExperts.Select(d => d.ToImmutableArray()).ToImmutableArray();
        var counts = new int[experts];
        foreach (var device in DeviceExperts)
        {
            foreach (var expert in device)
            {
                if (expert < 0 || expert >= experts)
                {
                    throw new ArgumentOutOfRangeException(nameof(deviceExperts), $"expert id {expert} is outside 0..{experts - 1}");
                }

                counts[expert]++;
            }
        }

        ReplicaCounts = counts.ToImmutableArray();
    }

    /// <summary>The model's layer id.</summary>
    public int LayerId { get; }

    /// <summary>For each device, the logical expert ids it holds, in slot order.</summary>
    public ImmutableArray<ImmutableArray<int>> DeviceExperts { get; }

    /// <summary>For each logical expert, how many devices hold a copy.</summary>
    public ImmutableArray<int> ReplicaCounts { get; }

    public int Devices => DeviceExperts.Length;

    public int PhysicalExperts => DeviceExperts.Sum(d => d.Length);
}

/// <summary>A placement of every MoE layer, as produced by one algorithm for one <see cref="PlacementProblem"/>.</summary>
/// <param name="Layers">One entry per row of the problem's loads, in the same order.</param>
public sealed record ExpertPlacement(
    string Algorithm,
    int Experts,
    int PhysicalExperts,
    int Devices,
    int DevicesPerNode,
    ImmutableArray<LayerPlacement> Layers)
{
    public int Nodes => Devices / DevicesPerNode;
}

/// <summary>The rules every placement must keep.</summary>
public static class PlacementInvariants
{
    /// <summary>
    /// Every violation, as text (empty when the placement is valid): every expert placed at least once; no two copies of
    /// one expert on one device; per-device slot counts (exactly SlotsPerDevice when even, at most when uneven);
    /// PhysicalExperts copies per layer; replica counts within the cap; one layer per load row with matching ids.
    /// </summary>
    public static ImmutableArray<string> Check(PlacementProblem problem, ExpertPlacement placement)
    {
        ArgumentNullException.ThrowIfNull(problem);
        ArgumentNullException.ThrowIfNull(placement);
        var errors = ImmutableArray.CreateBuilder<string>();
        if (placement.Layers.Length != problem.Loads.LayerCount)
        {
            errors.Add($"{placement.Layers.Length} layers placed for {problem.Loads.LayerCount} load rows");
            return errors.ToImmutable();
        }

        for (var i = 0; i < placement.Layers.Length; i++)
        {
            var layer = placement.Layers[i];
            var id = layer.LayerId;
            if (id != problem.Loads.LayerIds[i])
            {
                errors.Add($"layer index {i} has id {id}, the loads say {problem.Loads.LayerIds[i]}");
            }

            if (layer.Devices != problem.Devices)
            {
                errors.Add($"layer {id}: {layer.Devices} devices instead of {problem.Devices}");
                continue;
            }

            if (layer.PhysicalExperts != problem.PhysicalExperts)
            {
                errors.Add($"layer {id}: {layer.PhysicalExperts} copies instead of {problem.PhysicalExperts}");
            }

            for (var d = 0; d < layer.Devices; d++)
            {
                var slots = layer.DeviceExperts[d].Length;
                if (!problem.AllowUneven ? slots != problem.SlotsPerDevice : slots > problem.SlotsPerDevice)
                {
                    errors.Add($"layer {id}, device {d}: {slots} slots (limit {problem.SlotsPerDevice}{(problem.AllowUneven ? " at most" : " exactly")})");
                }

                var duplicate = layer.DeviceExperts[d].GroupBy(e => e).FirstOrDefault(g => g.Count() > 1);
                if (duplicate is not null)
                {
                    errors.Add($"layer {id}, device {d}: {duplicate.Count()} copies of expert {duplicate.Key}");
                }
            }

            for (var e = 0; e < layer.ReplicaCounts.Length; e++)
            {
                if (layer.ReplicaCounts[e] == 0)
                {
                    errors.Add($"layer {id}: expert {e} is not placed");
                }
                else if (layer.ReplicaCounts[e] > problem.MaxReplicasPerExpert)
                {
                    errors.Add($"layer {id}: expert {e} has {layer.ReplicaCounts[e]} copies (cap {problem.MaxReplicasPerExpert})");
                }
            }
        }

        return errors.ToImmutable();
    }
}
