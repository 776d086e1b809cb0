using MoePlan.Core.Plan;
using MoePlan.Runtime.Proxy;

namespace MoePlan.Runtime.Simulation;

/// <summary>What a run produced: every request that finished or was rejected, and the instances' busy time.</summary>
/// <param name="StartMilliseconds">First arrival.</param>
/// <param name="EndMilliseconds">Last event (the last completion).</param>
public sealed record SimulationResult(
    string Policy,
    int Arrived,
    IReadOnlyList<RequestState> Completed,
    IReadOnlyList<RequestState> Rejected,
    double StartMilliseconds,
    double EndMilliseconds,
    IReadOnlyList<InstanceUsage> Prefill,
    IReadOnlyList<InstanceUsage> Decode);

/// <summary>p50, p90, p99 (linear interpolation between order statistics, numpy's default) and the mean; NaN when empty.</summary>
public sealed record LatencySummary(int Count, double P50, double P90, double P99, double Mean)
{
    public static LatencySummary Of(double[] values)
    {
        if (values.Length == 0)
        {
            return new LatencySummary(0, double.NaN, double.NaN, double.NaN, double.NaN);
        }

        var sorted = (double[])values.Clone();
        Array.Sort(sorted);
        double sum = 0;
        foreach (var v in sorted)
        {
            sum += v;
        }

        return new LatencySummary(sorted.Length, Percentile(sorted, 50), Percentile(sorted, 90), Percentile(sorted, 99), sum / sorted.Length);
    }

    public static double Percentile(double[] sorted, double p)
    {
        double position = p / 100 * (sorted.Length - 1);
        int low = (int)Math.Floor(position);
        int high = Math.Min(low + 1, sorted.Length - 1);
        return sorted[low] + ((position - low) * (sorted[high] - sorted[low]));
    }
}

/// <summary>
/// Serving figures of a run. TTFT: arrival to the first token (the first decode step's end); TPOT: the rest of
/// the output's time per token, (done - first token) / (output - 1), for outputs longer than one token; E2E:
/// arrival to the last token. Rates divide by the run's span (first arrival to last completion).
/// Goodput counts completed requests whose own TTFT and TPOT meet the plan's SLO thresholds.
/// </summary>
public sealed record ServingMetrics(
    string Policy,
    int Arrived,
    int Completed,
    int Rejected,
    double DurationSeconds,
    LatencySummary TtftMilliseconds,
    LatencySummary TpotMilliseconds,
    LatencySummary E2eMilliseconds,
    double RequestsPerSecond,
    double InputTokensPerSecond,
    double OutputTokensPerSecond,
    double GoodputRequestsPerSecond,
    double ApcHitRate,
    IReadOnlyList<double> StageMeanMilliseconds,
    IReadOnlyList<double> PrefillUtilization,
    IReadOnlyList<double> DecodeUtilization)
{
    public static ServingMetrics From(SimulationResult result, SloTarget? ttftSlo, SloTarget? tpotSlo)
    {
        int n = result.Completed.Count;
        var ttft = new double[n];
        var e2e = new double[n];
        var tpot = new List<double>(n);
        var stageSums = new double[RequestState.StageCount];
        double input = 0, output = 0, cached = 0;
        int good = 0;
        for (int i = 0; i < n; i++)
        {
            var r = result.Completed[i];
            double arrival = r.Stamp(LifecycleStage.Received);
            double done = r.Stamp(LifecycleStage.Done);
            ttft[i] = r.FirstTokenMilliseconds - arrival;
            e2e[i] = done - arrival;
            double? perToken = r.Request.OutputTokens > 1 ? (done - r.FirstTokenMilliseconds) / (r.Request.OutputTokens - 1) : null;
            if (perToken is { } pt)
            {
                tpot.Add(pt);
            }

            if (Meets(ttftSlo, ttft[i]) && (perToken is not { } p || Meets(tpotSlo, p)))
            {
                good++;
            }

            input += r.Request.InputTokens;
            output += r.Request.OutputTokens;
            cached += r.CachedTokens;
            for (int s = 0; s < RequestState.StageCount - 1; s++)
            {
                stageSums[s] += r.Stamps[s + 1] - r.Stamps[s];
            }
        }

        var stageMeans = new double[RequestState.StageCount];
        for (int s = 0; s < stageMeans.Length; s++)
        {
            stageMeans[s] = n > 0 ? stageSums[s] / n : double.NaN;
        }

        double span = result.EndMilliseconds - result.StartMilliseconds;
        double seconds = span / 1e3;
        return new ServingMetrics(
            result.Policy,
            result.Arrived,
            n,
            result.Rejected.Count,
            seconds,
            LatencySummary.Of(ttft),
            LatencySummary.Of(tpot.ToArray()),
            LatencySummary.Of(e2e),
            Rate(n, seconds),
            Rate(input, seconds),
            Rate(output, seconds),
            Rate(good, seconds),
            input > 0 ? cached / input : 0,
            stageMeans,
            Utilization(result.Prefill, span),
            Utilization(result.Decode, span));
    }

    private static bool Meets(SloTarget? slo, double milliseconds) =>
        slo is null || (slo.Inclusive ? milliseconds <= slo.Milliseconds : milliseconds < slo.Milliseconds);

    private static double Rate(double count, double seconds) => seconds > 0 ? count / seconds : 0;

    private static double[] Utilization(IReadOnlyList<InstanceUsage> usage, double span)
    {
        var u = new double[usage.Count];
        for (int i = 0; i < u.Length; i++)
        {
            u[i] = span > 0 ? usage[i].BusyMilliseconds / span : 0;
        }

        return u;
    }
}
