using System.Collections.Immutable;
using MoePlan.Core.Calibration;
using MoePlan.Core.Diagnostics;
using MoePlan.Core.Placement;
using MoePlan.Core.Plan;
using MoePlan.Core.Text;
using MoePlan.Core.Workloads;

namespace MoePlan.Core.Cost;

/// <summary>A cost report with the placement imbalances it used, or the diagnostics that stopped it.</summary>
/// <param name="Options">What the report was computed with (imbalances, trace lengths): reuse them to cost variants of the plan.</param>
public sealed record PlanCostResult(CostReport? Report, double PrefillImbalance, double DecodeImbalance, ImmutableArray<Diagnostic> Diagnostics, CostOptions Options);

/// <summary>
/// The cost of a plan as <c>moeplan cost</c> reports it: the placement stage places each pool's experts as the
/// plan says (its algorithm, loads file or synthetic loads, slots) and its imbalance feeds the cost model.
/// </summary>
public static class PlanCostEvaluation
{
    /// <param name="placements">Remembers placements between calls (the language server's); null places every time.</param>
    public static PlanCostResult Evaluate(DeploymentPlan plan, ISourceResolver resolver, CostOptions? options = null, PlacementMemo? placements = null)
    {
        options ??= CostOptions.Default;
        (PlacementMetrics?, ImmutableArray<Diagnostic>) MetricsOf(PoolRole pool) =>
            placements is null ? PlanPlacement.MetricsOf(plan, pool, resolver) : placements.MetricsOf(plan, pool, resolver);
        var (prefill, prefillDiagnostics) = MetricsOf(PoolRole.Prefill);
        var (decode, decodeDiagnostics) = MetricsOf(PoolRole.Decode);
        var diagnostics = prefillDiagnostics.AddRange(decodeDiagnostics.Where(d => !prefillDiagnostics.Contains(d)));
        var lengths = options.Lengths;
        if (plan.Workload.Trace is { } trace && lengths is null)
        {
            // A trace workload's lengths come from the trace itself, streamed through its reader.
            var resolved = resolver.Resolve(trace.Span.File, trace.Path);
            if (!resolver.TryRead(resolved, out var text, out var error))
            {
                diagnostics = diagnostics.Add(DiagnosticCodes.ImportNotFound.Create(trace.Span, resolved, error));
            }
            else
            {
                var measured = WorkloadLengths.Measure(trace, resolved, new StringReader(text));
                diagnostics = diagnostics.AddRange(measured.Diagnostics);
                lengths = measured.Lengths;
            }
        }

        if (prefill is null || decode is null || (plan.Workload.Trace is not null && lengths is null))
        {
            return new PlanCostResult(null, 0, 0, diagnostics, options);
        }

        var used = options with
        {
            PrefillImbalance = options.PrefillImbalance ?? prefill.Imbalance,
            DecodeImbalance = options.DecodeImbalance ?? decode.Imbalance,
            Lengths = lengths,
        };
        var report = PlanCostModel.Evaluate(plan, used);
        report = report with { Intervals = PredictionInterval.Of(plan, used, report.Figures) };
        return new PlanCostResult(report, prefill.Imbalance, decode.Imbalance, diagnostics, used);
    }
}
