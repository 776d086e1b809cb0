using System.Collections.Immutable;
using System.Globalization;
using MoePlan.Core.Cost;
using MoePlan.Core.Diagnostics;
using MoePlan.Core.Plan;

namespace MoePlan.Core.Verification;

/// <summary>An SLO the cost model predicts the plan cannot meet is a warning carrying the predicted value.</summary>
public static class SloFeasibility
{
    public static ImmutableArray<Diagnostic> Check(DeploymentPlan plan, CostReport report)
    {
        var diagnostics = ImmutableArray.CreateBuilder<Diagnostic>();
        if (plan.Slo.Ttft is { } ttft && report.Prefill.TtftMilliseconds > ttft.Milliseconds)
        {
            diagnostics.Add(DiagnosticCodes.SloNotMet.CreateWithHint(ttft.Span,
                "lower prefill max_batch_tokens, add prefill instances, or relax the target",
                "TTFT", Ms(report.Prefill.TtftMilliseconds), $"ttft {ttft.StatisticName}", Ms(ttft.Milliseconds)));
        }

        if (plan.Slo.Tpot is { } tpot && report.Decode.TpotMilliseconds > tpot.Milliseconds)
        {
            diagnostics.Add(DiagnosticCodes.SloNotMet.CreateWithHint(tpot.Span,
                "lower decode max_batch, use MTP, or relax the target",
                "TPOT", Ms(report.Decode.TpotMilliseconds), $"tpot {tpot.StatisticName}", Ms(tpot.Milliseconds)));
        }

        return diagnostics.ToImmutable();
    }

    private static string Ms(double value) => value.ToString("0.#", CultureInfo.InvariantCulture);
}
