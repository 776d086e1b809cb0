using System.Collections.Immutable;
using MoePlan.Core.Diagnostics;
using MoePlan.Core.Plan;
using MoePlan.Core.Text;

namespace MoePlan.Core.Placement;

/// <summary>
/// The last placement of each pool, for a caller that compiles the same plan over and over (the language server, at
/// every edit). Placing is a pure function of the algorithm, the shape and the loads, so when all three equal the last
/// ones the last metrics are the answer; the loads are still built (cheap) and compared number by number. Only
/// placements that produced no diagnostic are kept: a diagnostic names a place in the text, which edits move.
/// Thread-safe; holds one entry per pool.
/// </summary>
public sealed class PlacementMemo
{
    private readonly Lock _lock = new();
    private readonly Dictionary<PoolRole, Entry> _last = [];

    /// <summary>Placements answered from the memo (for tests and benchmarks).</summary>
    public int Hits { get; private set; }

    /// <summary><see cref="PlanPlacement.MetricsOf"/>, answered from the last placement of the pool when its inputs are equal.</summary>
    public (PlacementMetrics? Metrics, ImmutableArray<Diagnostic> Diagnostics) MetricsOf(DeploymentPlan plan, PoolRole pool, ISourceResolver resolver)
    {
        ArgumentNullException.ThrowIfNull(plan);
        var (problem, diagnostics) = PlanPlacement.ProblemOf(plan, pool, resolver);
        if (problem is null)
        {
            return (null, diagnostics);
        }

        var algorithm = plan.Placement.Algorithm.Value;
        var memorable = diagnostics.IsEmpty && problem.Problem.Scenarios.IsEmpty;
        lock (_lock)
        {
            if (memorable && _last.TryGetValue(pool, out var last) && last.Algorithm == algorithm
                && last.Shape == problem.Problem.Shape && last.Loads.SameAs(problem.Problem.Loads))
            {
                Hits++;
                return (last.Metrics, diagnostics);
            }
        }

        var result = PlanPlacement.Place(plan, problem, null, diagnostics);
        if (memorable && result.Metrics is { } metrics && result.Diagnostics.IsEmpty)
        {
            lock (_lock)
            {
                _last[pool] = new Entry(algorithm, problem.Problem.Shape, problem.Problem.Loads, metrics);
            }
        }

        return (result.Metrics, result.Diagnostics);
    }

    private sealed record Entry(string Algorithm, PlacementShape Shape, ExpertLoads Loads, PlacementMetrics Metrics);
}
