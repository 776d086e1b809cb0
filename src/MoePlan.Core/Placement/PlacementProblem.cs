using System.Collections.Immutable;
using MoePlan.Core.Diagnostics;

namespace MoePlan.Core.Placement;

/// <summary>The deployment side of a placement problem: slots, devices, topology and caps.</summary>
/// <param name="PhysicalExperts">Expert slots per layer over all devices: logical experts + redundant experts.</param>
/// <param name="Devices">Expert-parallel ranks.</param>
/// <param name="DevicesPerNode">Devices that share a node (traffic inside a node is cheap).</param>
public sealed record PlacementShape(int PhysicalExperts, int Devices, int DevicesPerNode)
{
    /// <summary>Expert groups of the model (DeepSeek-V3: 8); used by eplb-hierarchical.</summary>
    public int ExpertGroups { get; init; } = 1;

    /// <summary>Devices may hold different numbers of experts in a layer (Omni Placement's uneven mode).</summary>
    public bool AllowUneven { get; init; }

    /// <summary>
    /// Uneven mode only: the most experts one device may hold in one layer (Omni: base experts per rank +
    /// max_redundant_per_rank). Default: PhysicalExperts / Devices rounded up.
    /// </summary>
    public int? MaxSlotsPerDevice { get; init; }

    /// <summary>The most copies of one expert in a layer (Omni: 1 + max_redundant_per_expert). Default and upper bound: Devices.</summary>
    public int? MaxReplicasPerExpert { get; init; }
}

/// <summary>A validated placement problem: loads plus shape, with derived quantities.</summary>
public sealed class PlacementProblem
{
    private PlacementProblem(ExpertLoads loads, PlacementShape shape, int slotsPerDevice, int maxReplicas)
    {
        Loads = loads;
        Shape = shape;
        SlotsPerDevice = slotsPerDevice;
        MaxReplicasPerExpert = maxReplicas;
    }

    public ExpertLoads Loads { get; }

    /// <summary>
    /// Robust problems only: the load sets the placement will meet, each normalised per layer (their mean is
    /// <see cref="Loads"/>). Empty for a problem with one set of loads.
    /// </summary>
    public ImmutableArray<ExpertLoads> Scenarios { get; private init; } = [];

    /// <summary>What moeplan's robust step minimises over <see cref="Scenarios"/>.</summary>
    public RobustObjective Objective { get; private init; }

    public PlacementShape Shape { get; }

    public int Experts => Loads.ExpertCount;

    public int PhysicalExperts => Shape.PhysicalExperts;

    public int Devices => Shape.Devices;

    public int DevicesPerNode => Shape.DevicesPerNode;

    public int Nodes => Shape.Devices / Shape.DevicesPerNode;

    public int ExpertGroups => Shape.ExpertGroups;

    public bool AllowUneven => Shape.AllowUneven;

    /// <summary>Slots of one device in one layer: exactly this many when even, at most this many when uneven.</summary>
    public int SlotsPerDevice { get; }

    public int MaxReplicasPerExpert { get; }

    /// <summary>True when every device holds exactly <see cref="SlotsPerDevice"/> experts in every layer.</summary>
    public bool IsEven => PhysicalExperts == Devices * SlotsPerDevice;

    public int NodeOf(int device) => device / DevicesPerNode;

    /// <summary>Validates the shape against the loads; every problem becomes a diagnostic.</summary>
    public static (PlacementProblem? Problem, ImmutableArray<Diagnostic> Diagnostics) Create(ExpertLoads loads, PlacementShape shape)
    {
        ArgumentNullException.ThrowIfNull(loads);
        ArgumentNullException.ThrowIfNull(shape);
        var errors = ImmutableArray.CreateBuilder<Diagnostic>();
        void Bad(string message) => errors.Add(DiagnosticCodes.PlacementBadParameter.Create(null, message));

        if (shape.Devices < 1)
        {
            Bad($"devices must be 1 or more (got {shape.Devices})");
        }

        if (shape.DevicesPerNode < 1)
        {
            Bad($"devices per node must be 1 or more (got {shape.DevicesPerNode})");
        }
        else if (shape.Devices >= 1 && shape.Devices % shape.DevicesPerNode != 0)
        {
            Bad($"{shape.Devices} devices do not fill whole nodes of {shape.DevicesPerNode}");
        }

        if (shape.ExpertGroups < 1 || loads.ExpertCount % shape.ExpertGroups != 0)
        {
            Bad($"{loads.ExpertCount} experts do not split into {shape.ExpertGroups} equal expert groups");
        }

        if (shape.PhysicalExperts < loads.ExpertCount)
        {
            errors.Add(DiagnosticCodes.PlacementTooFewSlots.Create(null, shape.PhysicalExperts, loads.ExpertCount));
        }

        if (errors.Count > 0)
        {
            return (null, errors.ToImmutable());
        }

        var evenSlots = (shape.PhysicalExperts + shape.Devices - 1) / shape.Devices;
        int slots;
        if (!shape.AllowUneven)
        {
            if (shape.PhysicalExperts % shape.Devices != 0)
            {
                errors.Add(DiagnosticCodes.PlacementUnevenSlots.Create(null, shape.PhysicalExperts, shape.Devices));
            }

            slots = evenSlots;
        }
        else
        {
            slots = shape.MaxSlotsPerDevice ?? evenSlots;
            if (slots < 1)
            {
                Bad($"the most slots per device must be 1 or more (got {slots})");
            }
            else if ((long)slots * shape.Devices < shape.PhysicalExperts)
            {
                errors.Add(DiagnosticCodes.PlacementCapsUnreachable.Create(null, (long)slots * shape.Devices, shape.PhysicalExperts));
            }
        }

        var maxReplicas = shape.MaxReplicasPerExpert ?? shape.Devices;
        if (maxReplicas < 1 || maxReplicas > shape.Devices)
        {
            Bad($"the most replicas per expert must be from 1 to the device count {shape.Devices} (got {maxReplicas}): two copies of an expert never share a device");
        }
        else if ((long)maxReplicas * loads.ExpertCount < shape.PhysicalExperts)
        {
            errors.Add(DiagnosticCodes.PlacementCapsUnreachable.Create(null, (long)maxReplicas * loads.ExpertCount, shape.PhysicalExperts));
        }

        return errors.Count > 0
            ? (null, errors.ToImmutable())
            : (new PlacementProblem(loads, shape, slots, maxReplicas), ImmutableArray<Diagnostic>.Empty);
    }

    /// <summary>
    /// A robust problem: the loads are the mean of the scenarios, each normalised per layer so every one counts once;
    /// every algorithm places on that mean, and moeplan's then lowers <paramref name="objective"/> over the scenarios
    /// (<see cref="RobustLayerRefiner"/>). The scenarios must share layer ids and expert count (a programming error
    /// otherwise: the plan maps every file onto the model's layers first).
    /// </summary>
    public static (PlacementProblem? Problem, ImmutableArray<Diagnostic> Diagnostics) CreateRobust(
        IReadOnlyList<ExpertLoads> scenarios, PlacementShape shape, RobustObjective objective = RobustObjective.WorstCase, LoadDriftModel? drift = null)
    {
        ArgumentNullException.ThrowIfNull(scenarios);
        var (problem, diagnostics) = Create(ExpertLoads.MeanOfNormalized(scenarios), shape);
        if (problem is null)
        {
            return (null, diagnostics);
        }

        // The drift model adds sampled neighbours of the mean: what the given sets do not show but traffic does.
        var all = scenarios.Select(s => s.Normalized()).ToList();
        if (drift is not null)
        {
            all.AddRange(drift.Sample(problem.Loads));
        }

        return (new PlacementProblem(problem.Loads, shape, problem.SlotsPerDevice, problem.MaxReplicasPerExpert)
        {
            Scenarios = all.Count > 1 ? [.. all] : [],
            Objective = objective,
        }, diagnostics);
    }

    /// <summary>The same deployment with other loads (e.g. prefill and decode recordings of one model).</summary>
    public (PlacementProblem? Problem, ImmutableArray<Diagnostic> Diagnostics) WithLoads(ExpertLoads loads) => Create(loads, Shape);
}
