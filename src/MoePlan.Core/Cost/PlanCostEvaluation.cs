using System.Collections.Immutable;
using MoePlan.Core.Diagnostics;
using MoePlan.Core.Placement;
using MoePlan.Core.Plan;
using MoePlan.Core.Text;

namespace MoePlan.Core.Cost;

/// <summary>A cost report with the placement imbalances it used, or the diagnostics that stopped it.</summary>
public sealed record PlanCostResult(CostReport? Report, double PrefillImbalance, double DecodeImbalance, ImmutableArray<Diagnostic> Diagnostics);

/// <summary>
/// The cost of a plan as <c>moeplan cost</c> reports it: the placement stage places each pool's experts as the
/// plan says (its algorithm, loads file or synthetic loads, slots) and its imbalance feeds the cost model.
/// </summary>
public static class PlanCostEvaluation
{
    public static PlanCostResult Evaluate(DeploymentPlan plan, ISourceResolver resolver, CostOptions? options = null)
    {
        options ??= CostOptions.Default;
        var (prefill, prefillDiagnostics) = PlanPlacement.MetricsOf(plan, PoolRole.Prefill, resolver);
        var (decode, decodeDiagnostics) = PlanPlacement.MetricsOf(plan, PoolRole.Decode, resolver);
        var diagnostics = prefillDiagnostics.AddRange(decodeDiagnostics.Where(d => !prefillDiagnostics.Contains(d)));
        if (prefill is null || decode is null)
        {
            return new PlanCostResult(null, 0, 0, diagnostics);
        }

        var withPlacement = options with
        {
            PrefillImbalance = options.PrefillImbalance ?? prefill.Imbalance,
            DecodeImbalance = options.DecodeImbalance ?? decode.Imbalance,
        };
        return new PlanCostResult(PlanCostModel.Evaluate(plan, withPlacement), prefill.Imbalance, decode.Imbalance, diagnostics);
    }
}
