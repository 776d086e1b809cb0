using System.Collections.Immutable;
using System.Globalization;
using MoePlan.Core.Plan;

namespace MoePlan.Core.Placement;

/// <summary>
/// The fabric a rebalance moves expert weights over, per rank (docs/placement.md#rebalancing-during-serving): a copy
/// comes over the scale-up fabric (NVLink, UB) when a rank of the receiver's scale-up domain (node or supernode) holds the
/// expert, else over the receiver's scale-out NIC. Rates are achieved ones (nominal x the family's efficiency).
/// </summary>
/// <param name="ExpertBytes">One routed expert of one layer at the experts' precision.</param>
/// <param name="ScaleUpDomainRanks">Ranks that share the scale-up fabric.</param>
public sealed record WeightMovementFabric(double ExpertBytes, int ScaleUpDomainRanks, double ScaleUpBytesPerSecond, double ScaleOutBytesPerSecond);

/// <summary>What one rebalance moves in one instance.</summary>
/// <param name="ScaleUpCopies">Expert copies a rank receives from a rank of its own scale-up domain (summed over ranks and layers).</param>
/// <param name="ScaleOutCopies">Copies that cross scale-up domains.</param>
/// <param name="Bytes">All copies x the expert's bytes.</param>
/// <param name="Milliseconds">The busiest receiver's time: its scale-up and NIC transfers run side by side, so max(scale-up bytes / rate, NIC bytes / rate).</param>
public sealed record WeightMovement(long ScaleUpCopies, long ScaleOutCopies, double Bytes, double Milliseconds)
{
    public long Copies => ScaleUpCopies + ScaleOutCopies;

    /// <summary>
    /// The weights that move from <paramref name="from"/> to <paramref name="to"/>: per layer and rank, every expert the
    /// rank holds in <paramref name="to"/> but not in <paramref name="from"/> is copied in (slots whose expert stays need
    /// nothing). Its source is a rank of the same scale-up domain when one holds the expert in <paramref name="from"/>.
    /// </summary>
    public static WeightMovement Between(ExpertPlacement from, ExpertPlacement to, WeightMovementFabric fabric)
    {
        ArgumentNullException.ThrowIfNull(from);
        ArgumentNullException.ThrowIfNull(to);
        ArgumentNullException.ThrowIfNull(fabric);
        int devices = to.Devices;
        int domain = Math.Clamp(fabric.ScaleUpDomainRanks, 1, Math.Max(1, devices));
        var upPerRank = new long[devices];
        var outPerRank = new long[devices];
        for (int l = 0; l < to.Layers.Length; l++)
        {
            var before = from.Layers[l];
            var after = to.Layers[l];
            for (int d = 0; d < devices; d++)
            {
                foreach (var expert in after.DeviceExperts[d])
                {
                    if (before.DeviceExperts[d].Contains(expert))
                    {
                        continue;
                    }

                    int first = d / domain * domain;
                    bool near = false;
                    for (int r = first; r < Math.Min(devices, first + domain) && !near; r++)
                    {
                        near = before.DeviceExperts[r].Contains(expert);
                    }

                    if (near)
                    {
                        upPerRank[d]++;
                    }
                    else
                    {
                        outPerRank[d]++;
                    }
                }
            }
        }

        double slowest = 0;
        for (int d = 0; d < devices; d++)
        {
            double up = upPerRank[d] * fabric.ExpertBytes / fabric.ScaleUpBytesPerSecond;
            double nic = outPerRank[d] * fabric.ExpertBytes / fabric.ScaleOutBytesPerSecond;
            slowest = Math.Max(slowest, Math.Max(up, nic));
        }

        long upCopies = upPerRank.Sum();
        long outCopies = outPerRank.Sum();
        return new WeightMovement(upCopies, outCopies, (upCopies + outCopies) * fabric.ExpertBytes, slowest * 1e3);
    }
}

/// <summary>One rebalance of a pool: when, what it moved in each instance, how long the pool stalled, the imbalance on the loads in force before and after.</summary>
public sealed record RebalanceEvent(PoolRole Pool, double Milliseconds, WeightMovement Movement, double ImbalanceBefore, double ImbalanceAfter)
{
    /// <summary>When the pool serves again.</summary>
    public double ResumeMilliseconds => Milliseconds + Movement.Milliseconds;
}

/// <summary>The MoE imbalance of a pool from a moment on (a window starts, a rebalance lands).</summary>
public readonly record struct ImbalanceChange(PoolRole Pool, double Milliseconds, double Imbalance);

/// <summary>
/// A pool's placement over serving time (docs/placement.md#rebalancing-during-serving). The traffic steps through load
/// windows; the placement made before serving stays (<c>rebalance off</c>), is re-made every interval from the loads
/// recorded since the last rebalance (<c>every</c>: SGLang's EPLB rebalances from the statistics it recorded), or is
/// re-made when the imbalance recorded over the last check period exceeds the threshold (<c>when</c>, checked every
/// <see cref="RebalancePlan.ThresholdCheckMilliseconds"/>, from that period's loads). A rebalance stalls the whole pool
/// for its weight movement (<see cref="WeightMovement"/>): SGLang's EPLB moves the weights between forward passes and
/// no step runs meanwhile. The imbalance is the overall one (<see cref="PlacementMetrics.Imbalance"/>) of the current
/// placement on the current window's loads. The timeline is computed as the simulation's clock reaches each moment,
/// so it never runs ahead of the served time. Deterministic: the same plan gives the same events.
/// </summary>
public sealed class RebalanceTimeline
{
    private readonly PlacementShape _shape;
    private readonly LoadWindows _windows;
    private readonly RebalancePlan? _policy;
    private readonly string _algorithm;
    private readonly WeightMovementFabric _fabric;
    private readonly List<RebalanceEvent> _events = [];
    private readonly List<ImbalanceChange> _changes = [];
    private readonly Dictionary<string, ExpertPlacement> _solved = new(StringComparer.Ordinal);
    private ExpertPlacement _placement;

    /// <summary>What the current placement was solved from (<see cref="Key"/>); null when not from the windows' loads.</summary>
    private string? _placedFrom;
    private int _window;
    private double _lastRebalance;
    private double _nextDecision;
    private double _stallEnd;

    /// <param name="initial">The placement made before serving (from the plan's <c>loads</c>).</param>
    /// <param name="algorithm">What a rebalance runs (a placement algorithm name; <c>eplb</c> is eplb-hierarchical).</param>
    public RebalanceTimeline(PoolRole pool, PlacementShape shape, ExpertPlacement initial, LoadWindows windows, RebalancePlan? policy, string algorithm, WeightMovementFabric fabric)
    {
        ArgumentNullException.ThrowIfNull(shape);
        ArgumentNullException.ThrowIfNull(initial);
        ArgumentNullException.ThrowIfNull(windows);
        ArgumentNullException.ThrowIfNull(fabric);
        if (windows.Windows.IsDefaultOrEmpty)
        {
            throw new ArgumentException("a timeline needs at least one load window", nameof(windows));
        }

        Pool = pool;
        _shape = shape;
        _windows = windows;
        _policy = policy is { Trigger: RebalanceTrigger.Off } ? null : policy;
        _algorithm = algorithm == "eplb" ? "eplb-hierarchical" : algorithm;
        _fabric = fabric;
        _placement = initial;

        // Without load windows (LoadWindows.Constant) the one window holds the loads the initial placement was made from:
        // a rebalance from them keeps it (re-solving could only permute equal copies, moving weights for nothing).
        _placedFrom = windows.Windows.Length == 1 && double.IsPositiveInfinity(windows.Windows[0].DurationMilliseconds) ? Key(0, 1) : null;
        Imbalance = ImbalanceOn(initial, 0);
        _changes.Add(new ImbalanceChange(pool, 0, Imbalance));
        _nextDecision = NextDecisionAfter(0);
    }

    public PoolRole Pool { get; }

    /// <summary>The imbalance at the moment the timeline has reached.</summary>
    public double Imbalance { get; private set; }

    public IReadOnlyList<RebalanceEvent> Events => _events;

    /// <summary>Every change of the imbalance so far, from time 0.</summary>
    public IReadOnlyList<ImbalanceChange> Changes => _changes;

    /// <summary>
    /// Moves the timeline to <paramref name="milliseconds"/> (never back: earlier times are answered with the state
    /// reached) and returns when the pool may start a step: <paramref name="milliseconds"/>, or the end of the stall of a
    /// rebalance under way.
    /// </summary>
    public double Advance(double milliseconds)
    {
        while (_nextDecision <= milliseconds)
        {
            Decide(_nextDecision);
        }

        return Math.Max(milliseconds, _stallEnd);
    }

    private void Decide(double t)
    {
        int window = _windows.IndexAt(t);
        if (window != _window)
        {
            _window = window;
            Imbalance = ImbalanceOn(_placement, window);
            _changes.Add(new ImbalanceChange(Pool, t, Imbalance));
        }

        if (_policy is { } p && IsRebalanceMoment(p, t))
        {
            if (p.Trigger == RebalanceTrigger.Periodic)
            {
                Rebalance(t, _lastRebalance, _windows.Recorded(_lastRebalance, t));
            }
            else
            {
                // The check sees the imbalance recorded over its last period, and rebalances from that period's loads.
                double from = t - RebalancePlan.ThresholdCheckMilliseconds;
                var recorded = _windows.Recorded(from, t);
                if (PlacementMetrics.Compute(recorded, _placement).Imbalance > p.ImbalanceThreshold!.Value.Value)
                {
                    Rebalance(t, from, recorded);
                }
            }
        }

        _nextDecision = NextDecisionAfter(t);
    }

    private bool IsRebalanceMoment(RebalancePlan p, double t)
    {
        double period = p.Trigger == RebalanceTrigger.Periodic ? p.IntervalMilliseconds!.Value.Value : RebalancePlan.ThresholdCheckMilliseconds;
        return t > 0 && Math.Abs((t / period) - Math.Round(t / period)) < 1e-9;
    }

    /// <summary>The next moment something may change: a window boundary or a rebalance moment.</summary>
    private double NextDecisionAfter(double t)
    {
        double next = double.PositiveInfinity;
        double start = 0;
        for (int i = 0; i < _windows.Windows.Length - 1; i++)
        {
            start += _windows.Windows[i].DurationMilliseconds;
            if (start > t)
            {
                next = start;
                break;
            }
        }

        if (_policy is { } p)
        {
            double period = p.Trigger == RebalanceTrigger.Periodic ? p.IntervalMilliseconds!.Value.Value : RebalancePlan.ThresholdCheckMilliseconds;
            double k = Math.Floor((t / period) + 1e-9) + 1;
            next = Math.Min(next, k * period);
        }

        return next;
    }

    private void Rebalance(double t, double from, ExpertLoads recorded)
    {
        // Periodic rebalances from whole windows see the same loads again: solve each distinct recording once.
        var key = Key(from, t);
        if (key == _placedFrom)
        {
            // The same loads as the placement in force was made from: it stays.
            _solved[key] = _placement;
        }

        if (!_solved.TryGetValue(key, out var next))
        {
            var (problem, problemDiagnostics) = PlacementProblem.Create(recorded, _shape);
            if (problem is null)
            {
                throw new InvalidOperationException($"rebalance problem: {string.Join("; ", problemDiagnostics.Select(d => d.Message))}");
            }

            var result = PlacementAlgorithms.Place(_algorithm, problem);
            next = result.Placement ?? throw new InvalidOperationException($"rebalance with {_algorithm}: {string.Join("; ", result.Diagnostics.Select(d => d.Message))}");
            _solved[key] = next;
        }

        var movement = WeightMovement.Between(_placement, next, _fabric);
        var before = Imbalance;
        _placement = next;
        _placedFrom = key;
        Imbalance = ImbalanceOn(next, _window);
        _events.Add(new RebalanceEvent(Pool, t, movement, before, Imbalance));
        _changes.Add(new ImbalanceChange(Pool, t, Imbalance));
        _lastRebalance = t;
        _stallEnd = Math.Max(_stallEnd, t + movement.Milliseconds);
    }

    private double ImbalanceOn(ExpertPlacement placement, int window) => PlacementMetrics.Compute(_windows.Windows[window].Loads, placement).Imbalance;

    /// <summary>Which files the recording from <paramref name="from"/> to <paramref name="to"/> mixes, in what shares: equal keys, equal loads.</summary>
    private string Key(double from, double to)
    {
        var shares = new SortedDictionary<string, double>(StringComparer.Ordinal);
        double start = 0;
        for (int i = 0; i < _windows.Windows.Length; i++)
        {
            double end = i == _windows.Windows.Length - 1 ? double.PositiveInfinity : start + _windows.Windows[i].DurationMilliseconds;
            double overlap = Math.Min(end, to) - Math.Max(start, from);
            if (overlap > 0)
            {
                shares[_windows.Windows[i].File] = shares.GetValueOrDefault(_windows.Windows[i].File) + overlap;
            }

            start = end;
        }

        double total = shares.Values.Sum();
        return string.Join(";", shares.Select(s => string.Create(CultureInfo.InvariantCulture, $"{s.Key}={s.Value / total:R}")));
    }
}
