using MoePlan.Scheduling;
using MoePlan.Serving.Proxy;

namespace MoePlan.Serving.Simulation;

/// <summary>
/// Requests waiting for prefill: an instance's queue, or the proxy's held requests (instance -1), the simulation's
/// and the live proxy's (one class, so both release held requests in the same order). A step walks
/// it in the policy's order and takes requests until its batch or the upstreams are full, so a walk must cost
/// what it takes, not what waits: a trace whose requests share one timestamp leaves a million waiting, and
/// sorting them at every step made the simulation quadratic (docs/reliability.md).
/// <list type="bullet">
/// <item>First come, first served: arrival order, taken requests left as holes and swept up in bulk.</item>
/// <item>Omni's weight: a <see cref="WeightedPrefillQueue"/>, whose walk costs about what it takes.</item>
/// <item>A script's priorities: the hook prices every waiting request (its API hands it the whole queue), so
/// the queue is a list sorted in full at each walk, as before.</item>
/// </list>
/// Not thread-safe (the simulation's loop; the live proxy's router lock).
/// </summary>
internal sealed class PrefillQueue
{
    private readonly ISchedulingState _state;
    private readonly ISchedulingHooks? _hooks;
    private readonly int _instance;
    private readonly QueueOrder _order;

    // First come, first served: arrival order with holes (null) where requests left.
    private readonly List<RequestState?> _arrival = [];
    private int _head;

    private readonly WeightedPrefillQueue? _weighted;
    private readonly List<RequestState> _taken = [];

    // A script's priorities: a plain list, reordered as the old proxy queue was.
    private readonly List<RequestState> _listed = [];
    private QueueEntry[] _entries = [];
    private RequestState[] _sorted = [];
    private double[] _priorities = [];

    /// <param name="policy">Its order: a script's priorities (<see cref="ISchedulingHooks"/>), Omni's weight (<see cref="IRoutingPolicy.WeightedPrefillQueue"/>), else arrival.</param>
    /// <param name="state">What a script's <see cref="ISchedulingHooks.Prioritize"/> sees.</param>
    /// <param name="instance">The prefill instance, or -1 for the proxy's held requests.</param>
    /// <param name="since">The stage whose stamp starts a request's wait (the APC match for the proxy, queue entry for an instance).</param>
    public PrefillQueue(IRoutingPolicy policy, ISchedulingState state, int instance, RequestStage since)
    {
        ArgumentNullException.ThrowIfNull(policy);
        _state = state;
        _hooks = policy as ISchedulingHooks;
        _instance = instance;
        _order = _hooks is not null ? QueueOrder.Scripted : policy.WeightedPrefillQueue ? QueueOrder.Weighted : QueueOrder.Arrival;
        if (_order == QueueOrder.Weighted)
        {
            _weighted = new WeightedPrefillQueue(since);
        }
    }

    private enum QueueOrder : byte
    {
        Arrival,
        Weighted,
        Scripted,
    }

    public int Count { get; private set; }

    /// <summary>Prompt tokens of the requests waiting.</summary>
    public long Tokens { get; private set; }

    public void Add(RequestState r)
    {
        Count++;
        Tokens += r.Request.InputTokens;
        switch (_order)
        {
            case QueueOrder.Arrival:
                _arrival.Add(r);
                break;
            case QueueOrder.Weighted:
                _weighted!.Add(r);
                break;
            default:
                _listed.Add(r);
                break;
        }
    }

    /// <summary>Every request waiting, in no promised order (the end of a run).</summary>
    public IEnumerable<RequestState> All() => _order switch
    {
        QueueOrder.Arrival => _arrival.Skip(_head).OfType<RequestState>(),
        QueueOrder.Weighted => _weighted!.All(),
        _ => _listed,
    };

    /// <summary>Shows the requests in the policy's order at <paramref name="t"/> until <paramref name="step"/> says stop; removes those it took.</summary>
    public void Walk(double t, Func<RequestState, QueueStep> step)
    {
        if (Count == 0)
        {
            return;
        }

        switch (_order)
        {
            case QueueOrder.Arrival:
                WalkArrival(step);
                break;
            case QueueOrder.Weighted:
                _weighted!.Walk(t, r =>
                {
                    var next = step(r);
                    if (next == QueueStep.Take)
                    {
                        Left(r);
                    }

                    return next;
                });
                break;
            default:
                WalkScripted(t, step);
                break;
        }
    }

    /// <summary>Takes a request out without a walk (a live client that gave up); false when it is not waiting here.</summary>
    public bool Remove(RequestState r)
    {
        bool removed;
        switch (_order)
        {
            case QueueOrder.Arrival:
                int i = _arrival.IndexOf(r, _head);
                removed = i >= 0;
                if (removed)
                {
                    _arrival[i] = null;
                }

                break;
            case QueueOrder.Weighted:
                removed = _weighted!.Remove(r);
                break;
            default:
                removed = _listed.Remove(r);
                break;
        }

        if (removed)
        {
            Left(r);
        }

        return removed;
    }

    private void Left(RequestState r)
    {
        Count--;
        Tokens -= r.Request.InputTokens;
    }

    private void WalkArrival(Func<RequestState, QueueStep> step)
    {
        for (int i = _head; i < _arrival.Count; i++)
        {
            var r = _arrival[i];
            if (r is null)
            {
                continue;
            }

            var next = step(r);
            if (next == QueueStep.Take)
            {
                _arrival[i] = null;
                Left(r);
            }
            else if (next == QueueStep.Stop)
            {
                break;
            }
        }

        while (_head < _arrival.Count && _arrival[_head] is null)
        {
            _head++;
        }

        // Holes behind the head are dropped at once; holes further in are swept when they outnumber the requests.
        if (_head == _arrival.Count)
        {
            _arrival.Clear();
            _head = 0;
        }
        else if (_arrival.Count - _head - Count > Math.Max(64, Count))
        {
            int kept = 0;
            for (int i = _head; i < _arrival.Count; i++)
            {
                if (_arrival[i] is { } r)
                {
                    _arrival[kept++] = r;
                }
            }

            _arrival.RemoveRange(kept, _arrival.Count - kept);
            _head = 0;
        }
    }

    private void WalkScripted(double t, Func<RequestState, QueueStep> step)
    {
        int n = _listed.Count;
        if (_entries.Length < n)
        {
            _entries = new QueueEntry[Math.Max(n, 2 * _entries.Length)];
            _sorted = new RequestState[_entries.Length];
        }

        var order = _entries.AsSpan(0, n);
        ScriptOrder(order);
        for (int i = 0; i < n; i++)
        {
            _sorted[i] = _listed[order[i].Index];
        }

        // The proxy's own queue stays in the order it was last walked in (the script sees it so next time);
        // an instance's keeps its arrival order.
        _taken.Clear();
        bool stopped = false;
        for (int i = 0; i < n && !stopped; i++)
        {
            var next = step(_sorted[i]);
            if (next == QueueStep.Take)
            {
                _taken.Add(_sorted[i]);
                _sorted[i].QueueWalk = -1;
            }

            stopped = next == QueueStep.Stop;
        }

        if (_instance < 0)
        {
            _listed.Clear();
            for (int i = 0; i < n; i++)
            {
                if (_sorted[i].QueueWalk != -1)
                {
                    _listed.Add(_sorted[i]);
                }
            }
        }
        else
        {
            _listed.RemoveAll(r => r.QueueWalk == -1);
        }

        foreach (var r in _taken)
        {
            r.QueueWalk = 0;
            Left(r);
        }

        Array.Clear(_sorted, 0, n);
        _taken.Clear();
    }

    /// <summary>The order under a script: its priorities for the queue, highest first, ties by request id.</summary>
    private void ScriptOrder(Span<QueueEntry> order)
    {
        int n = order.Length;
        if (_priorities.Length < n)
        {
            _priorities = new double[Math.Max(n, 2 * _priorities.Length)];
        }

        var keys = _priorities.AsSpan(0, n);
        _hooks!.Prioritize(_instance, _listed, _state, keys);
        for (int i = 0; i < n; i++)
        {
            order[i] = new QueueEntry(-keys[i], _listed[i].Request.Id, i);
        }

        order.Sort();
    }

    private readonly record struct QueueEntry(double Key, long Id, int Index) : IComparable<QueueEntry>
    {
        public int CompareTo(QueueEntry other)
        {
            int c = Key.CompareTo(other.Key);
            return c != 0 ? c : Id.CompareTo(other.Id);
        }
    }
}
