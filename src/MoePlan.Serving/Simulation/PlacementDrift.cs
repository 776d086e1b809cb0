using System.Collections.Immutable;
using MoePlan.Core.Placement;
using MoePlan.Core.Plan;

namespace MoePlan.Serving.Simulation;

/// <summary>
/// The placement of both pools over serving time (docs/placement.md#rebalancing-during-serving): the MoE imbalance each
/// step runs with, and the stalls of rebalances (no step of the pool starts until a rebalance's weights have moved; a
/// step under way when it is due finishes first). Also keeps the mean TPOT of the requests completing in each
/// <see cref="TpotBinMilliseconds"/>, to set against the imbalance.
/// </summary>
public sealed class PlacementDrift
{
    /// <summary>Width of the TPOT-over-time bins: 10 s, the shortest rebalance interval a plan may give.</summary>
    public const double TpotBinMilliseconds = RebalancePlan.MinimumIntervalMilliseconds;

    private readonly List<double> _tpotSums = [];
    private readonly List<long> _tpotCounts = [];

    /// <param name="description">What the run rebalances with, for people ("every 60 s with moeplan").</param>
    public PlacementDrift(RebalanceTimeline prefill, RebalanceTimeline decode, int prefillInstances, int decodeInstances, string? loadsOverTime, string description)
    {
        Prefill = prefill;
        Decode = decode;
        PrefillInstances = prefillInstances;
        DecodeInstances = decodeInstances;
        LoadsOverTime = loadsOverTime;
        Description = description;
    }

    public RebalanceTimeline Prefill { get; }

    public RebalanceTimeline Decode { get; }

    public int PrefillInstances { get; }

    public int DecodeInstances { get; }

    public string? LoadsOverTime { get; }

    public string Description { get; }

    /// <summary>Records a completed request's TPOT in the bin of its completion time.</summary>
    internal void AddTpot(double doneMilliseconds, double tpotMilliseconds)
    {
        int bin = (int)Math.Max(0, Math.Floor(doneMilliseconds / TpotBinMilliseconds));
        while (_tpotSums.Count <= bin)
        {
            _tpotSums.Add(0);
            _tpotCounts.Add(0);
        }

        _tpotSums[bin] += tpotMilliseconds;
        _tpotCounts[bin]++;
    }

    /// <summary>What the run saw, once it has ended.</summary>
    public PlacementDriftResult Result()
    {
        // An aggregated plan's serve pool is both: its timeline counts once.
        var prefill = ReferenceEquals(Prefill, Decode) ? null : Prefill;
        var events = (prefill?.Events ?? []).Concat(Decode.Events).OrderBy(e => e.Milliseconds).ThenBy(e => e.Pool).ToImmutableArray();
        var changes = (prefill?.Changes ?? []).Concat(Decode.Changes).OrderBy(c => c.Milliseconds).ThenBy(c => c.Pool).ToImmutableArray();
        var tpot = ImmutableArray.CreateBuilder<TpotBin>();
        for (int i = 0; i < _tpotSums.Count; i++)
        {
            if (_tpotCounts[i] > 0)
            {
                tpot.Add(new TpotBin(i * TpotBinMilliseconds, (i + 1) * TpotBinMilliseconds, _tpotCounts[i], _tpotSums[i] / _tpotCounts[i]));
            }
        }

        double moved = ((prefill?.Events.Sum(e => e.Movement.Bytes) ?? 0) * PrefillInstances) + (Decode.Events.Sum(e => e.Movement.Bytes) * DecodeInstances);
        double stall = events.Sum(e => e.Movement.Milliseconds);
        return new PlacementDriftResult(LoadsOverTime, Description, events, changes, tpot.ToImmutable(), moved, stall);
    }
}

/// <summary>Mean TPOT of the requests that completed from <paramref name="StartMilliseconds"/> to <paramref name="EndMilliseconds"/>.</summary>
public readonly record struct TpotBin(double StartMilliseconds, double EndMilliseconds, long Requests, double MeanTpotMilliseconds);

/// <summary>
/// The placement side of a run with loads over time or rebalancing.
/// </summary>
/// <param name="WeightsMovedBytes">Every rebalance's bytes in every instance of its pool (each instance moves its own copies).</param>
/// <param name="StallMilliseconds">The rebalances' stalls added up (every instance of a pool stalls for the same time, side by side).</param>
public sealed record PlacementDriftResult(
    string? LoadsOverTime,
    string Rebalance,
    ImmutableArray<RebalanceEvent> Events,
    ImmutableArray<ImbalanceChange> Imbalance,
    ImmutableArray<TpotBin> Tpot,
    double WeightsMovedBytes,
    double StallMilliseconds)
{
    public int Rebalances => Events.Length;
}
