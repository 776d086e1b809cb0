using System.Collections.Immutable;
using MoePlan.Core.Diagnostics;

namespace MoePlan.Core.Placement;

/// <summary>What an algorithm returns: a placement unless an error diagnostic says why not.</summary>
public sealed record PlacementResult(ExpertPlacement? Placement, ImmutableArray<Diagnostic> Diagnostics)
{
    public bool Succeeded => Placement is not null;

    internal static PlacementResult Failed(params Diagnostic[] diagnostics) => new(null, diagnostics.ToImmutableArray());
}

/// <summary>An expert-placement algorithm, selectable by <see cref="Name"/> through <see cref="PlacementAlgorithms"/>.</summary>
public interface IPlacementAlgorithm
{
    /// <summary>The registry name (lower case, as users type it).</summary>
    string Name { get; }

    /// <summary>One line for help output.</summary>
    string Summary { get; }

    /// <summary>Places every layer of the problem. Deterministic: same problem, same placement.</summary>
    PlacementResult Place(PlacementProblem problem);
}

/// <summary>The registry of placement algorithms.</summary>
public static class PlacementAlgorithms
{
    public const string DefaultName = MoePlanPlacement.AlgorithmName;

    /// <summary>Every algorithm, the default first.</summary>
    public static ImmutableArray<IPlacementAlgorithm> All { get; } =
    [
        new MoePlanPlacement(),
        new EplbHierarchicalPlacement(),
        new EplbGlobalPlacement(),
        new OmniPlacement(),
    ];

    public static IPlacementAlgorithm Default => All[0];

    public static ImmutableArray<string> Names => All.Select(a => a.Name).ToImmutableArray();

    /// <summary>Finds an algorithm by name (ASCII case-insensitive); null when unknown.</summary>
    public static IPlacementAlgorithm? Find(string name) =>
        All.FirstOrDefault(a => string.Equals(a.Name, name?.Trim(), StringComparison.OrdinalIgnoreCase));

    /// <summary>Runs the named algorithm, or returns an unknown-algorithm diagnostic listing the names.</summary>
    public static PlacementResult Place(string name, PlacementProblem problem)
    {
        var algorithm = Find(name);
        return algorithm is null
            ? PlacementResult.Failed(DiagnosticCodes.PlacementUnknownAlgorithm.CreateWithHint(null, $"choose one of: {string.Join(", ", Names)}", name))
            : algorithm.Place(problem);
    }
}

/// <summary>Mutable per-device expert lists of one layer while an algorithm builds them.</summary>
internal sealed class LayerLayout
{
    public LayerLayout(int devices)
    {
        Items = new List<int>[devices];
        for (var d = 0; d < devices; d++)
        {
            Items[d] = [];
        }
    }

    public List<int>[] Items { get; }

    public int Devices => Items.Length;

    /// <summary>
    /// Removes every second copy of an expert on one device by swapping it with a copy of another expert from a device
    /// that has no copy of the first and whose swapped expert is not on the first device; among those, the one whose
    /// per-replica load is closest. Such a swap always exists when an expert has fewer copies than there are devices
    /// and the other device is full, which is the case for the even layouts where greedy packing can get stuck.
    /// </summary>
    public void RepairDuplicates(Func<int, double> replicaLoad, int capacity)
    {
        for (var d = 0; d < Devices; d++)
        {
            while (FindDuplicate(Items[d]) is { } slot)
            {
                var expert = Items[d][slot];
                var best = (Device: -1, Slot: -1, Distance: double.MaxValue);
                for (var other = 0; other < Devices; other++)
                {
                    if (other == d || Items[other].Contains(expert))
                    {
                        continue;
                    }

                    for (var s = 0; s < Items[other].Count; s++)
                    {
                        var candidate = Items[other][s];
                        var distance = Math.Abs(replicaLoad(candidate) - replicaLoad(expert));
                        if (!Items[d].Contains(candidate) && distance < best.Distance)
                        {
                            best = (other, s, distance);
                        }
                    }
                }

                if (best.Device < 0)
                {
                    // Uneven layouts: move the copy to the least filled device that has room and no copy.
                    var target = Enumerable.Range(0, Devices)
                        .Where(o => o != d && Items[o].Count < capacity && !Items[o].Contains(expert))
                        .OrderBy(o => Items[o].Count)
                        .First();
                    Items[d].RemoveAt(slot);
                    Items[target].Add(expert);
                    continue;
                }

                Items[d][slot] = Items[best.Device][best.Slot];
                Items[best.Device][best.Slot] = expert;
            }
        }
    }

    private static int? FindDuplicate(List<int> items)
    {
        for (var i = 1; i < items.Count; i++)
        {
            for (var j = 0; j < i; j++)
            {
                if (items[i] == items[j])
                {
                    return i;
                }
            }
        }

        return null;
    }

    public LayerPlacement ToPlacement(int layerId, int experts, bool sortSlots) =>
        new(layerId, experts, Items.Select(items => sortSlots ? items.Order().ToList() : items));

    /// <summary>Assembles the per-layer layouts of a problem.</summary>
    public static ExpertPlacement Assemble(string algorithm, PlacementProblem problem, IReadOnlyList<LayerLayout> layers, bool sortSlots) =>
        new(
            algorithm,
            problem.Experts,
            problem.PhysicalExperts,
            problem.Devices,
            problem.DevicesPerNode,
            layers.Select((layout, i) => layout.ToPlacement(problem.Loads.LayerIds[i], problem.Experts, sortSlots)).ToImmutableArray());
}
