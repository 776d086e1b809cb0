using MoePlan.Core.Plan;
using MoePlan.Scheduling;
using MoePlan.Serving.Proxy;

namespace MoePlan.Serving.Simulation;

/// <summary>
/// What a run produced: the completion figures (accumulated as requests finished, in bounded memory), the
/// instances' busy time, the queue lengths over time and the number of events. <see cref="Completed"/> and
/// <see cref="Rejected"/> hold the requests themselves only when the simulation was asked to retain them.
/// </summary>
/// <param name="StartMilliseconds">First arrival.</param>
/// <param name="EndMilliseconds">Last event (the last completion).</param>
public sealed record SimulationResult(
    string Policy,
    int Arrived,
    CompletionFigures Figures,
    double StartMilliseconds,
    double EndMilliseconds,
    IReadOnlyList<InstanceUsage> Prefill,
    IReadOnlyList<InstanceUsage> Decode,
    long Events,
    QueueLengthSeries Queues,
    IReadOnlyList<RequestState> Completed,
    IReadOnlyList<RequestState> Rejected)
{
    public long CompletedCount => Figures.Completed;

    public long RejectedCount => Figures.Rejected;

    /// <summary>The last arrival's time.</summary>
    public double LastArrivalMilliseconds { get; init; }

    /// <summary>Output tokens the decode steps had produced by the last arrival (MTP's fractional yield capped at each output).</summary>
    public double OutputTokensByLastArrival { get; init; }

    /// <summary>Loads over time and rebalancing: the events, imbalance and TPOT over time; null for a plan without them.</summary>
    public PlacementDriftResult? Placement { get; init; }
}

/// <summary>
/// Per-request figures folded in as each request completes: latency distributions, token sums, goodput under the
/// SLO thresholds and the time per lifecycle stage. Nothing per request is kept beyond the distributions' bound.
/// </summary>
public sealed class CompletionFigures(SloTarget? ttftSlo, SloTarget? tpotSlo)
{
    private readonly double[] _stageSums = new double[RequestState.StageCount];

    public LatencyDistribution Ttft { get; } = new();

    public LatencyDistribution Tpot { get; } = new();

    public LatencyDistribution E2e { get; } = new();

    public long Completed { get; private set; }

    public long Rejected { get; private set; }

    public double InputTokens { get; private set; }

    public double OutputTokens { get; private set; }

    public double CachedTokens { get; private set; }

    /// <summary>Completed requests whose own TTFT and TPOT meet the SLO thresholds.</summary>
    public long Good { get; private set; }

    public void AddRejected() => Rejected++;

    public void AddCompleted(RequestState r)
    {
        Completed++;
        double arrival = r.Stamp(RequestStage.Received);
        double done = r.Stamp(RequestStage.Done);
        double ttft = r.FirstTokenMilliseconds - arrival;
        Ttft.Add(ttft);
        E2e.Add(done - arrival);
        double? perToken = r.Request.OutputTokens > 1 ? (done - r.FirstTokenMilliseconds) / (r.Request.OutputTokens - 1) : null;
        if (perToken is { } pt)
        {
            Tpot.Add(pt);
        }

        if (Meets(ttftSlo, ttft) && (perToken is not { } p || Meets(tpotSlo, p)))
        {
            Good++;
        }

        InputTokens += r.Request.InputTokens;
        OutputTokens += r.Request.OutputTokens;
        CachedTokens += r.CachedTokens;
        for (int s = 0; s < RequestState.StageCount - 1; s++)
        {
            _stageSums[s] += r.Stamps[s + 1] - r.Stamps[s];
        }
    }

    /// <summary>Mean time from entering each stage to entering the next; NaN with no completions.</summary>
    public double[] StageMeans()
    {
        var means = new double[RequestState.StageCount];
        for (int s = 0; s < means.Length; s++)
        {
            means[s] = Completed > 0 ? _stageSums[s] / Completed : double.NaN;
        }

        return means;
    }

    private static bool Meets(SloTarget? slo, double milliseconds) =>
        slo is null || (slo.Inclusive ? milliseconds <= slo.Milliseconds : milliseconds < slo.Milliseconds);
}

/// <summary>p50, p90, p99 (linear interpolation between order statistics, numpy's default) and the mean; NaN when empty.</summary>
public sealed record LatencySummary(int Count, double P50, double P90, double P99, double Mean);

/// <summary>
/// Serving figures of a run. TTFT: arrival to the first token (the first decode step's end); TPOT: the rest of
/// the output's time per token, (done - first token) / (output - 1), for outputs longer than one token; E2E:
/// arrival to the last token. Rates divide by the run's span (first arrival to last completion).
/// Goodput counts completed requests whose own TTFT and TPOT meet the run's SLO thresholds (<see cref="ServingConfig"/>).
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
    /// <summary>Events the simulation processed.</summary>
    public long Events { get; init; }

    /// <summary>Loads over time and rebalancing (null for a plan without them).</summary>
    public PlacementDriftResult? Placement { get; init; }

    /// <summary>
    /// Output tokens produced from the first to the last arrival over that window: the rate while traffic is
    /// offered, without the drain of a bounded run (NaN for a single arrival instant).
    /// </summary>
    public double OutputTokensPerSecondWhileArriving { get; init; }

    public static ServingMetrics From(SimulationResult result)
    {
        var f = result.Figures;
        double span = result.EndMilliseconds - result.StartMilliseconds;
        double seconds = span / 1e3;
        return new ServingMetrics(
            result.Policy,
            result.Arrived,
            (int)f.Completed,
            (int)f.Rejected,
            seconds,
            f.Ttft.Summary(),
            f.Tpot.Summary(),
            f.E2e.Summary(),
            Rate(f.Completed, seconds),
            Rate(f.InputTokens, seconds),
            Rate(f.OutputTokens, seconds),
            Rate(f.Good, seconds),
            f.InputTokens > 0 ? f.CachedTokens / f.InputTokens : 0,
            f.StageMeans(),
            Utilization(result.Prefill, span),
            Utilization(result.Decode, span))
        {
            Events = result.Events,
            Placement = result.Placement,
            OutputTokensPerSecondWhileArriving = result.LastArrivalMilliseconds > result.StartMilliseconds
                ? result.OutputTokensByLastArrival / ((result.LastArrivalMilliseconds - result.StartMilliseconds) / 1e3)
                : double.NaN,
        };
    }

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
