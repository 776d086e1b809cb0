using System.Collections.Immutable;
using System.Globalization;
using MoePlan.Core.Cost;
using MoePlan.Core.Diagnostics;
using MoePlan.Core.Plan;
using MoePlan.Core.Workloads;

namespace MoePlan.Core.Verification;

/// <summary>
/// The workload against the deployment: every request (prompt + output) must fit the decode pool's context, which the
/// bundles pass to the engines as their maximum model length; the offered rate should not exceed what the pools serve.
/// </summary>
public static class WorkloadFit
{
    /// <summary>z of the standard normal's 99th percentile (Phi^-1(0.99), any normal table).</summary>
    private const double NormalP99 = 2.3263478740408408;

    /// <summary>
    /// The request length the context must hold, prompt + output: fixed and uniform lengths at their maximum; log-normal
    /// lengths at their 99th percentile each (clipped as the workload clips them; the sum of the two percentiles bounds
    /// the sum's own percentile from above when the two are independent); a trace at the 99th percentile of its
    /// requests' prompt + output, measured. Null when a trace has not been measured.
    /// </summary>
    public static (int Tokens, string Statistic)? RequiredContext(WorkloadPlan workload, WorkloadLengths? measured)
    {
        if (workload.Trace is not null)
        {
            return measured is { P99TotalTokens: > 0 } m ? (m.P99TotalTokens, "the trace's p99 prompt + output") : null;
        }

        if (workload.Input is not { } input || workload.Output is not { } output)
        {
            return null;
        }

        var statistic = input is LogNormalLength || output is LogNormalLength ? "p99" : "max";
        var tokens = (long)Upper(input) + Upper(output);
        return ((int)Math.Min(int.MaxValue, tokens), $"the workload's {statistic} prompt + output ({Upper(input)} + {Upper(output)})");
    }

    /// <summary>The length the check uses for one distribution: the maximum of bounded ones, the p99 of log-normal ones.</summary>
    public static int Upper(LengthDistribution distribution) => distribution switch
    {
        FixedLength f => f.Tokens,
        UniformLength u => u.Max,
        LogNormalLength l => LogNormalP99(l),
        _ => throw new ArgumentException($"unknown length distribution {distribution.GetType().Name}", nameof(distribution)),
    };

    private static int LogNormalP99(LogNormalLength l)
    {
        // As SyntheticWorkload samples it: sigma^2 = ln(1 + s^2/m^2), mu = ln m - sigma^2/2, then clipped.
        var sigma2 = Math.Log(1 + (l.StandardDeviationTokens * l.StandardDeviationTokens / (l.MeanTokens * l.MeanTokens)));
        var mu = Math.Log(l.MeanTokens) - (sigma2 / 2);
        var x = Math.Exp(mu + (Math.Sqrt(sigma2) * NormalP99));
        if (l.Min is { } min)
        {
            x = Math.Max(min, x);
        }

        if (l.Max is { } max)
        {
            x = Math.Min(max, x);
        }

        return (int)Math.Max(1, Math.Min(int.MaxValue, Math.Ceiling(x)));
    }

    /// <summary>Prompt + output against the decode context; <paramref name="measured"/> carries a trace's lengths.</summary>
    public static ImmutableArray<Diagnostic> CheckContext(DeploymentPlan plan, WorkloadLengths? measured)
    {
        if (plan.Decode.ContextTokens is not { } context || RequiredContext(plan.Workload, measured) is not { } required)
        {
            return [];
        }

        if (required.Tokens > context.Value)
        {
            var diagnostic = DiagnosticCodes.WorkloadExceedsContext.CreateWithHint(context.Span,
                $"raise {plan.Decode.Name} `context` to {required.Tokens} (and re-check memory), or shorten the workload's lengths",
                required.Statistic, required.Tokens, context.Value);
            return [context.IsDefault ? diagnostic : diagnostic.WithFix($"Raise {plan.Decode.Name} `context` to {required.Tokens}", new TextEdit(context.Span, required.Tokens.ToString(CultureInfo.InvariantCulture)))];
        }

        if (plan.Workload.Trace is { } trace && measured is { MaxTotalTokens: var longest } && longest > context.Value)
        {
            var diagnostic = DiagnosticCodes.LongestRequestExceedsContext.CreateWithHint(trace.Span,
                $"raise {plan.Decode.Name} `context` to {longest} to serve every request", longest, context.Value, required.Tokens);
            return [context.IsDefault ? diagnostic : diagnostic.WithFix($"Raise {plan.Decode.Name} `context` to {longest}", new TextEdit(context.Span, longest.ToString(CultureInfo.InvariantCulture)))];
        }

        return [];
    }

    /// <summary>The offered rate (arrivals, or a trace's measured rate) against the cost model's capacity.</summary>
    public static ImmutableArray<Diagnostic> CheckRate(DeploymentPlan plan, CostReport report, WorkloadLengths? measured)
    {
        var workload = plan.Workload;
        var (offered, source, span) = workload.Arrivals is { } arrivals
            ? (arrivals.RatePerSecond, $"arrivals {arrivals.Process.ToString().ToLowerInvariant()}", arrivals.Span)
            : (measured?.ArrivalRatePerSecond ?? 0, "the trace's requests over its duration", workload.Trace?.Span ?? workload.Span);
        var prefill = report.PrefillCapacityRequestsPerSecond;
        var decode = report.DecodeCapacityRequestsPerSecond;
        var capacity = Math.Min(prefill, decode);
        if (offered <= capacity || offered <= 0)
        {
            return [];
        }

        // Aggregated: one pool whose steps carry both; its limit is its decode batch or its prompt chunks.
        var (limitingName, pool) = plan.IsAggregated
            ? (decode <= prefill ? "the serve pool's decode batch" : "the serve pool's prompt chunks", plan.Decode)
            : decode <= prefill ? ("the decode pool", plan.Decode) : ("the prefill pool", plan.Prefill);
        var perInstance = Math.Min(prefill, decode) / pool.Instances.Value;
        var instances = (int)Math.Ceiling(offered / perInstance);
        // Rounded down, so the rate offered after the fix is within capacity (rounding to nearest could land above it).
        var atMost = Math.Floor(capacity * 10) / 10;
        var hint = $"use {instances} {pool.Name} instances ({Rate(perInstance)} req/s each), or offer at most {Rate(atMost)} req/s";
        var diagnostic = DiagnosticCodes.OfferedRateExceedsCapacity.CreateWithHint(span, hint,
            Rate(offered), source, Rate(capacity), limitingName, Rate(prefill), Rate(decode));
        // The fix lowers the offered rate: more instances would need a cluster the plan may not have.
        return [workload.Arrivals is { } given && atMost > 0
            ? diagnostic.WithFix($"Offer at most {Rate(atMost)} req/s", new TextEdit(given.Span, $"arrivals {given.Process.ToString().ToLowerInvariant()} {Rate(atMost)}/s"))
            : diagnostic];
    }

    private static string Rate(double value) => value.ToString("0.0", CultureInfo.InvariantCulture);
}
