using System.Collections.Immutable;
using MoePlan.Core.Catalog;
using MoePlan.Core.Cost;
using MoePlan.Core.Diagnostics;
using MoePlan.Core.Plan;
using MoePlan.Core.Text;

namespace MoePlan.Core.Placement;

/// <summary>Builds a plan's placement timelines for the serving simulation (docs/placement.md#rebalancing-during-serving).</summary>
public static class PlanRebalancing
{
    /// <summary>The plan changes its loads or rebalances while serving: the simulation needs timelines.</summary>
    public static bool Applies(DeploymentPlan plan)
    {
        ArgumentNullException.ThrowIfNull(plan);
        return plan.Placement.LoadsOverTime is not null || plan.Placement.Rebalance is { Trigger: not RebalanceTrigger.Off };
    }

    /// <summary>
    /// The fabric of a pool's weight movement: one routed expert at the experts' precision (3 x hidden x moe_intermediate
    /// parameters), the plan's scale-up domain, and per-rank rates at the family's all-to-all efficiency (the cost model's
    /// <see cref="StepMachine"/>).
    /// </summary>
    public static WeightMovementFabric FabricOf(DeploymentPlan plan)
    {
        ArgumentNullException.ThrowIfNull(plan);
        var machine = PlanCostModel.Machine(plan);
        var parameters = ParameterCounter.Count(plan.Model.Entry.Architecture);
        double expertBytes = parameters.ExpertParameters * MemoryModel.BytesPerElement(plan.Precision.Experts.Value);
        return new WeightMovementFabric(
            expertBytes,
            machine.ScaleUpDomainRanks,
            machine.ScaleUpBytesPerSecond * machine.Efficiency.ScaleUpEfficiency,
            machine.ScaleOutBytesPerSecond * machine.Efficiency.ScaleOutEfficiency);
    }

    /// <summary>
    /// A pool's timeline: the placement the plan makes before serving (its algorithm and <c>loads</c>), the windows
    /// (<paramref name="windows"/>, else the plan's loads for ever) and the plan's <c>rebalance</c>. Null with the
    /// diagnostics when the pool does not place.
    /// </summary>
    public static (RebalanceTimeline? Timeline, ImmutableArray<Diagnostic> Diagnostics) TimelineOf(DeploymentPlan plan, PoolRole pool, ISourceResolver resolver, LoadWindows? windows)
    {
        ArgumentNullException.ThrowIfNull(plan);
        var placed = PlanPlacement.Place(plan, pool, resolver);
        if (placed.Placement is null || placed.Problem is null)
        {
            return (null, placed.Diagnostics);
        }

        windows ??= LoadWindows.Constant(placed.Problem.LoadsDescription, placed.Problem.Problem.Loads);
        var rebalance = plan.Placement.Rebalance;
        var algorithm = rebalance?.Algorithm?.Value ?? plan.Placement.Algorithm.Value;
        return (new RebalanceTimeline(pool, placed.Problem.Problem.Shape, placed.Placement, windows, rebalance, algorithm, FabricOf(plan)), placed.Diagnostics);
    }
}
