using System.Collections.Immutable;
using MoePlan.Core.Diagnostics;
using MoePlan.Core.Plan;
using MoePlan.Core.Text;

namespace MoePlan.Core.Placement;

/// <summary>One held-out workload: every algorithm placed on the other files, measured on this one.</summary>
public sealed record LeaveOneOutRow(string HeldOut, ImmutableArray<(string Algorithm, PlacementMetrics? Metrics)> Algorithms);

/// <summary>
/// Leave-one-workload-out: for each of several load files, place with every algorithm on the others (a robust problem:
/// their normalised mean, and moeplan's robust step over them) and measure each placement on the file left out - the
/// workload the placement has not seen.
/// </summary>
public static class LeaveOneOutPlacement
{
    public static (ImmutableArray<LeaveOneOutRow> Rows, ImmutableArray<Diagnostic> Diagnostics) Run(
        DeploymentPlan plan, PoolRole pool, ISourceResolver resolver, IReadOnlyList<string> files, RobustObjective objective = RobustObjective.WorstCase, LoadDriftModel? drift = null)
    {
        ArgumentNullException.ThrowIfNull(plan);
        ArgumentNullException.ThrowIfNull(files);
        if (files.Count < 2)
        {
            throw new ArgumentException("leave-one-out needs two or more files", nameof(files));
        }

        var diagnostics = ImmutableArray<Diagnostic>.Empty;
        var loads = new List<ExpertLoads>();
        foreach (var file in files)
        {
            var (read, _, fileDiagnostics) = PlanPlacement.LoadsOf(plan, pool, resolver, new LoadFileOverride(file));
            diagnostics = diagnostics.AddRange(fileDiagnostics);
            if (read is not null)
            {
                loads.Add(read);
            }
        }

        if (loads.Count < files.Count)
        {
            return ([], diagnostics);
        }

        var rows = ImmutableArray.CreateBuilder<LeaveOneOutRow>();
        for (var h = 0; h < files.Count; h++)
        {
            var held = h;
            var training = loads.Where((_, i) => i != held).ToList();
            var (problem, problemDiagnostics) = PlacementProblem.CreateRobust(training, PlanPlacement.ShapeOf(plan, pool), objective, drift);
            diagnostics = diagnostics.AddRange(problemDiagnostics);
            if (problem is null)
            {
                return ([], diagnostics);
            }

            var results = ImmutableArray.CreateBuilder<(string, PlacementMetrics?)>();
            foreach (var algorithm in PlacementAlgorithms.All)
            {
                var result = algorithm.Place(problem);
                diagnostics = diagnostics.AddRange(result.Diagnostics.Where(d => d.IsError));
                results.Add((algorithm.Name, result.Placement is { } placement ? PlacementMetrics.Compute(loads[h], placement) : null));
            }

            rows.Add(new LeaveOneOutRow(files[h], results.ToImmutable()));
        }

        return (rows.ToImmutable(), diagnostics);
    }
}
