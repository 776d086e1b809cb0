using System.Collections.Immutable;
using MoePlan.Core.Diagnostics;
using MoePlan.Core.Placement;
using MoePlan.Core.Plan;

namespace MoePlan.Emulation.Functional;

/// <summary>One layer's placement and what made it.</summary>
/// <param name="Algorithm">The algorithm that placed the layer.</param>
/// <param name="Fallback">Why the plan's algorithm did not place it; null when it did.</param>
/// <param name="Warnings">The placing algorithm's warnings (e.g. EPLB's hierarchical fallback).</param>
public sealed record FunctionalLayerPlacement(LayerPlacement Placement, string Algorithm, string? Fallback, ImmutableArray<string> Warnings);

/// <summary>
/// The emulated deployment's expert placement: the plan's placement algorithm (<see cref="PlacementAlgorithms"/>) on the
/// plan's decode slots folded onto the emulated devices. The plan's routed and redundant experts are all kept; a device
/// stands for <c>ep / devices</c> plan ranks, so its slot cap is that many ranks' caps, and no expert has more copies
/// than there are devices (two copies never share one). Each layer is placed from the batch's own routing loads, as
/// EPLB places from observed loads.
/// </summary>
public sealed class FunctionalPlacement
{
    internal FunctionalPlacement(string algorithm, PlacementShape shape)
    {
        Algorithm = algorithm;
        Shape = shape;
    }

    /// <summary>The plan's algorithm name.</summary>
    public string Algorithm { get; }

    /// <summary>The folded shape every layer's problem has.</summary>
    public PlacementShape Shape { get; }

    /// <summary>
    /// The plan's decode placement folded onto <paramref name="devices"/> emulated devices (a divisor of the plan's decode
    /// EP), <paramref name="devicesPerNode"/> of them sharing a node (a divisor of <paramref name="devices"/>).
    /// </summary>
    public static FunctionalPlacement For(DeploymentPlan plan, int devices, int devicesPerNode)
    {
        ArgumentNullException.ThrowIfNull(plan);
        var planShape = PlanPlacement.ShapeOf(plan, PoolRole.Decode);
        int ep = planShape.Devices;
        if (devices < 1 || ep % devices != 0 || devicesPerNode < 1 || devices % devicesPerNode != 0)
        {
            throw new ArgumentException($"{devices} emulated devices, {devicesPerNode} per node, do not fold decode EP {ep}.");
        }

        int fold = ep / devices;
        var shape = new PlacementShape(planShape.PhysicalExperts, devices, devicesPerNode)
        {
            ExpertGroups = planShape.ExpertGroups,
            AllowUneven = planShape.AllowUneven,
            MaxSlotsPerDevice = planShape.MaxSlotsPerDevice * fold,
            MaxReplicasPerExpert = planShape.MaxReplicasPerExpert is { } cap ? Math.Min(cap, devices) : null,
        };
        return new FunctionalPlacement(plan.Placement.Algorithm.Value, shape);
    }

    /// <summary>The placement problem of one layer: its loads (one per routed expert) on the folded shape.</summary>
    public (PlacementProblem? Problem, ImmutableArray<Diagnostic> Diagnostics) ProblemFor(int layer, IReadOnlyList<double> loads) =>
        PlacementProblem.Create(ExpertLoads.Create([layer], [loads]), Shape);

    /// <summary>
    /// Places one layer with the plan's algorithm; when that algorithm cannot place the folded shape, with the default
    /// algorithm, saying why. Throws <see cref="ArgumentException"/> when the folded shape cannot hold the plan's slots.
    /// </summary>
    public FunctionalLayerPlacement Place(int layer, IReadOnlyList<double> loads)
    {
        var (problem, diagnostics) = ProblemFor(layer, loads);
        if (problem is null)
        {
            throw new ArgumentException($"the plan's {Shape.PhysicalExperts} expert slots do not fold onto {Shape.Devices} emulated devices: {Messages(diagnostics)}");
        }

        var result = PlacementAlgorithms.Place(Algorithm, problem);
        string? fallback = null;
        string used = Algorithm;
        if (result.Placement is null)
        {
            fallback = $"{Algorithm} cannot place the {Shape.PhysicalExperts} slots folded onto {Shape.Devices} devices ({Messages(result.Diagnostics)})";
            used = PlacementAlgorithms.DefaultName;
            result = PlacementAlgorithms.Place(used, problem);
            if (result.Placement is null)
            {
                throw new ArgumentException($"{fallback}, nor can {used} ({Messages(result.Diagnostics)})");
            }
        }

        var warnings = result.Diagnostics.Where(d => !d.IsError).Select(d => d.Message).ToImmutableArray();
        return new FunctionalLayerPlacement(result.Placement.Layers.Single(), used, fallback, warnings);
    }

    private static string Messages(IEnumerable<Diagnostic> diagnostics) =>
        string.Join("; ", diagnostics.Where(d => d.IsError).Select(d => d.Message));
}
