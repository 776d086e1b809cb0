using MoePlan.Core.Diagnostics;
using MoePlan.Core.Plan;
using MoePlan.Core.Search;
using MoePlan.Core.Workloads;
using MoePlan.Serving.Proxy;
using MoePlan.Serving.Simulation;

namespace MoePlan.Serving.Search;

/// <summary>An analytic figure next to the simulated one.</summary>
/// <param name="Disagreement">|simulated - analytic| / analytic; NaN when either is not finite or the analytic one is 0.</param>
public readonly record struct ConfirmedFigure(double Analytic, double Simulated)
{
    public double Disagreement => double.IsFinite(Analytic) && double.IsFinite(Simulated) && Analytic != 0
        ? Math.Abs(Simulated - Analytic) / Math.Abs(Analytic)
        : double.NaN;
}

/// <summary>
/// A winner served by the serving simulation with the plan's workload. The analytic TTFT and TPOT are the cost
/// model's: a request's expected latency at a busy instance, so they are compared with the simulated means.
/// Throughput and goodput are per rank; the analytic throughput is the cost model's capacity capped at the offered
/// load of the simulated arrivals (what the deployment would serve), so an unsaturated run is not a disagreement.
/// </summary>
/// <param name="Skipped">Why the winner was not simulated (a script policy, an unreadable trace); the figures are then NaN.</param>
/// <param name="SloAttainment">Completed requests whose own TTFT and TPOT met the SLOs, over all completed.</param>
/// <param name="SimulatedMeetsSlos">The simulated TTFT and TPOT at each SLO's statistic meet it (mean, p50, p90, else p99).</param>
public sealed record SimulatedConfirmation(
    ReplacedCandidate Candidate,
    string? Skipped,
    ServingMetrics? Metrics,
    ConfirmedFigure TtftMilliseconds,
    ConfirmedFigure TpotMilliseconds,
    ConfirmedFigure OutputTokensPerSecondPerRank,
    ConfirmedFigure GoodputRequestsPerSecondPerRank,
    double SloAttainment,
    bool SimulatedMeetsSlos)
{
    /// <summary>The figures whose disagreement is above <paramref name="threshold"/> (a fraction, 0.25 = 25%).</summary>
    public IReadOnlyList<string> Disagreements(double threshold) =>
    [
        .. new (string Name, ConfirmedFigure Figure)[]
            {
                ("TTFT", TtftMilliseconds), ("TPOT", TpotMilliseconds), ("throughput", OutputTokensPerSecondPerRank), ("goodput", GoodputRequestsPerSecondPerRank),
            }
            .Where(f => f.Figure.Disagreement > threshold)
            .Select(f => f.Name),
    ];

    /// <summary>
    /// Simulates <paramref name="winner"/> with the first <paramref name="requests"/> requests of its plan's
    /// workload (same seed for every winner: the plan's, unless <paramref name="seed"/> is given), at the
    /// imbalances of its own placement.
    /// </summary>
    /// <param name="planDirectory">Folder of the base plan: a trace path is relative to it.</param>
    /// <param name="scriptPolicy">Creates the plan's scheduler-script policy (<c>policy script "..."</c>), which only
    /// the caller can compile; without it a script policy's winner is not simulated.</param>
    public static SimulatedConfirmation Run(ReplacedCandidate winner, string planDirectory, int requests, long? seed, Func<IRoutingPolicy>? scriptPolicy = null)
    {
        var candidate = winner.Replaced;
        var plan = candidate.Plan;
        IRoutingPolicy? policy;
        if (plan.Proxy.Policy.Value == RoutingPolicyCatalog.ScriptName && scriptPolicy is not null)
        {
            policy = scriptPolicy();
        }
        else if (!RoutingPolicies.TryCreate(plan.Proxy.Policy.Value, out policy, out var policyError))
        {
            return NotRun(winner, policyError!);
        }

        // Streamed into the simulation (a trace is not held in memory); a malformed row voids the run afterwards.
        var diagnostics = new List<Diagnostic>();
        SimulationResult result;
        try
        {
            var arrivals = ServingRun.Arrivals(plan, planDirectory, null, requests, seed, diagnostics);
            result = ServingRun.Simulate(plan, winner.Cost.Report is null ? null : winner.Cost, policy!, arrivals);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException)
        {
            return NotRun(winner, e.Message);
        }

        if (diagnostics.FirstOrDefault(d => d.IsError) is { } error)
        {
            return NotRun(winner, error.ToString());
        }

        if (result.Arrived == 0)
        {
            return NotRun(winner, "the workload has no requests");
        }

        var metrics = ServingMetrics.From(result);
        var ranks = candidate.Ranks;

        // The offered load of the arrivals simulated: requests over the span of their arrival times.
        var arrivalSpanSeconds = (result.LastArrivalMilliseconds - result.StartMilliseconds) / 1e3;
        var offered = result.Arrived > 1 && arrivalSpanSeconds > 0 ? (result.Arrived - 1) / arrivalSpanSeconds : double.PositiveInfinity;
        var capacity = Math.Min(candidate.Report.PrefillCapacityRequestsPerSecond, candidate.Report.DecodeCapacityRequestsPerSecond);
        var servedShare = Math.Min(1, offered / capacity);
        // As the cost model's goodput: the served requests when both predicted latencies meet the SLOs, else 0.
        var analyticGoodput = candidate.MeetsSlos ? Math.Min(capacity, offered) / ranks : 0;
        var attainment = metrics.RequestsPerSecond > 0 ? metrics.GoodputRequestsPerSecond / metrics.RequestsPerSecond : 0;

        // Simulated rates over the arrival window, not first arrival to last completion: a bounded run's drain
        // after the last arrival would otherwise read as lost throughput. Goodput: the good share of the arrivals
        // at the offered rate.
        var simulatedThroughput = double.IsFinite(metrics.OutputTokensPerSecondWhileArriving)
            ? metrics.OutputTokensPerSecondWhileArriving
            : metrics.OutputTokensPerSecond;
        var simulatedGoodput = double.IsFinite(offered) && metrics.Arrived > 0
            ? attainment * metrics.Completed / metrics.Arrived * offered
            : metrics.GoodputRequestsPerSecond;
        var meets = metrics.Completed > 0 && Meets(plan.Slo.Ttft, metrics.TtftMilliseconds) && Meets(plan.Slo.Tpot, metrics.TpotMilliseconds);
        return new SimulatedConfirmation(
            winner,
            null,
            metrics,
            new ConfirmedFigure(candidate.TtftMilliseconds, metrics.TtftMilliseconds.Mean),
            new ConfirmedFigure(candidate.TpotMilliseconds, metrics.TpotMilliseconds.Mean),
            new ConfirmedFigure(candidate.OutputTokensPerSecondPerRank * servedShare, simulatedThroughput / ranks),
            new ConfirmedFigure(analyticGoodput, simulatedGoodput / ranks),
            attainment,
            meets);
    }

    /// <summary>Ranks confirmed winners by the simulated objective: meeting the SLOs in simulation first, then simulated
    /// goodput per rank, then simulated output tokens/s per rank, then the analytic order.</summary>
    public static IReadOnlyList<SimulatedConfirmation> RankBySimulation(IReadOnlyList<SimulatedConfirmation> confirmed) =>
    [
        .. confirmed.Select((c, i) => (c, i))
            .OrderByDescending(x => x.c.Skipped is null && x.c.SimulatedMeetsSlos)
            .ThenByDescending(x => Finite(x.c.GoodputRequestsPerSecondPerRank.Simulated))
            .ThenByDescending(x => Finite(x.c.OutputTokensPerSecondPerRank.Simulated))
            .ThenBy(x => x.i)
            .Select(x => x.c),
    ];

    private static double Finite(double x) => double.IsFinite(x) ? x : double.NegativeInfinity;

    /// <summary>The SLO's statistic of the simulated latencies: the mean, p50, p90, or p99 for any higher percentile.</summary>
    public static double AtSloStatistic(SloTarget slo, LatencySummary latency) => slo.Percentile switch
    {
        0 => latency.Mean,
        <= 50 => latency.P50,
        <= 90 => latency.P90,
        _ => latency.P99,
    };

    private static bool Meets(SloTarget? slo, LatencySummary latency)
    {
        if (slo is null || latency.Count == 0)
        {
            return slo is null || latency.Count == 0;
        }

        var value = AtSloStatistic(slo, latency);
        return slo.Inclusive ? value <= slo.Milliseconds : value < slo.Milliseconds;
    }

    private static SimulatedConfirmation NotRun(ReplacedCandidate winner, string why) =>
        new(winner, why, null, new(winner.Replaced.TtftMilliseconds, double.NaN), new(winner.Replaced.TpotMilliseconds, double.NaN),
            new(winner.Replaced.OutputTokensPerSecondPerRank, double.NaN), new(double.NaN, double.NaN), double.NaN, false);
}
