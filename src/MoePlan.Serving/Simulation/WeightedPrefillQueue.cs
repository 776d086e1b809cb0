using MoePlan.Scheduling;
using MoePlan.Serving.Proxy;

namespace MoePlan.Serving.Simulation;

/// <summary>What a walk over a prefill queue does with the request it is shown.</summary>
internal enum QueueStep : byte
{
    /// <summary>The request leaves the queue (scheduled or routed).</summary>
    Take,

    /// <summary>The request stays; the walk goes on to the next.</summary>
    Keep,

    /// <summary>The request stays and the walk ends.</summary>
    Stop,
}

/// <summary>
/// A prefill queue in Omni's weight order (<see cref="ServingSimulation.OmniQueueWeight"/>: short prompts and long
/// waits first, ties by request id), walked at a cost near what the walk takes rather than what waits. The requests
/// sit in two sorted sets, by prompt tokens and by the start of their wait. The weight falls as either grows, so
/// the requests a walk has not looked at yet weigh at most the weight of the two cursors' keys together; the walk
/// looks at the sets in turn and yields the heaviest request looked at once it beats that bound (Fagin's threshold
/// algorithm). The order is exactly a full sort's; the full sort at every step made a trace whose requests share
/// one timestamp quadratic (docs/reliability.md).
/// </summary>
internal sealed class WeightedPrefillQueue
{
    private static int _walks;

    private readonly RequestStage _since;
    private readonly SortedSet<RequestState> _byTokens;
    private readonly SortedSet<RequestState> _bySince;
    private readonly PriorityQueue<RequestState, WeightKey> _seen = new();
    private readonly List<RequestState> _taken = [];

    /// <param name="since">The stage whose stamp starts the wait (APC match for the proxy, queue entry for an instance).</param>
    public WeightedPrefillQueue(RequestStage since)
    {
        _since = since;
        _byTokens = new SortedSet<RequestState>(Comparer<RequestState>.Create(CompareByTokens));
        _bySince = new SortedSet<RequestState>(Comparer<RequestState>.Create(CompareBySince));
    }

    public int Count => _byTokens.Count;

    public void Add(RequestState r)
    {
        _byTokens.Add(r);
        _bySince.Add(r);
    }

    /// <summary>Takes a request out (its stamps unchanged since it was added); false when it is not here.</summary>
    public bool Remove(RequestState r) => _byTokens.Remove(r) && _bySince.Remove(r);

    /// <summary>Every request waiting, earliest wait first.</summary>
    public IEnumerable<RequestState> All() => _bySince;

    /// <summary>Shows the requests in weight order at <paramref name="t"/> until <paramref name="step"/> says stop; removes those it took.</summary>
    public void Walk(double t, Func<RequestState, QueueStep> step)
    {
        if (Count == 0)
        {
            return;
        }

        // The figures a full sort uses: the longest prompt, and the longest wait (the earliest start).
        double maxTokens = _byTokens.Max!.Request.InputTokens;
        double maxWaited = t - _bySince.Min!.Stamp(_since);

        // Marks are unique per walk across every queue (a request moves from the proxy's queue to an instance's).
        int walk = Interlocked.Increment(ref _walks);
        _seen.Clear();
        _taken.Clear();
        var byTokens = _byTokens.GetEnumerator();
        var bySince = _bySince.GetEnumerator();
        var tokensHead = NextUnseen(ref byTokens, walk);
        var sinceHead = NextUnseen(ref bySince, walk);
        bool fromTokens = true;
        while (true)
        {
            if (_seen.TryPeek(out var best, out var bestKey)
                && (tokensHead is null || sinceHead is null || Beats(best, -bestKey.NegativeWeight, tokensHead, sinceHead, maxTokens, maxWaited, t)))
            {
                _seen.Dequeue();
                var next = step(best);
                if (next == QueueStep.Take)
                {
                    _taken.Add(best);
                }
                else if (next == QueueStep.Stop)
                {
                    break;
                }

                continue;
            }

            if (tokensHead is null && sinceHead is null)
            {
                break;
            }

            // One more request, from each set in turn, so the bound falls on both keys.
            var r = sinceHead is null || (tokensHead is not null && fromTokens) ? tokensHead! : sinceHead;
            fromTokens = !fromTokens;
            r.QueueWalk = walk;
            _seen.Enqueue(r, new WeightKey(-Weight(r, maxTokens, maxWaited, t), r.Request.Id, r.Sequence));
            if (tokensHead?.QueueWalk == walk)
            {
                tokensHead = NextUnseen(ref byTokens, walk);
            }

            if (sinceHead?.QueueWalk == walk)
            {
                sinceHead = NextUnseen(ref bySince, walk);
            }
        }

        foreach (var r in _taken)
        {
            _byTokens.Remove(r);
            _bySince.Remove(r);
        }

        _seen.Clear();
        _taken.Clear();
    }

    /// <summary>
    /// Whether the heaviest request looked at comes before every request not looked at yet. Those have at least the
    /// tokens cursor's prompt and a wait that began no earlier than the since cursor's, so weigh at most the
    /// weight of the two together (the weight is monotone in each, in floating point too). One weighing exactly
    /// that much has the tokens cursor's prompt (with the wait fixed, prompts one token apart differ by at least
    /// 0.8 / maxTokens, far above rounding), so it lies after the cursor in (tokens, id) order: a tie is won by an
    /// id below the cursor's.
    /// </summary>
    private bool Beats(RequestState best, double weight, RequestState tokensHead, RequestState sinceHead, double maxTokens, double maxWaited, double t)
    {
        double bound = ServingSimulation.OmniQueueWeight(tokensHead.Request.InputTokens, maxTokens, t - sinceHead.Stamp(_since), maxWaited);
        return weight > bound || (weight == bound && CompareIds(best, tokensHead) < 0);
    }

    private double Weight(RequestState r, double maxTokens, double maxWaited, double t) =>
        ServingSimulation.OmniQueueWeight(r.Request.InputTokens, maxTokens, t - r.Stamp(_since), maxWaited);

    private static RequestState? NextUnseen(ref SortedSet<RequestState>.Enumerator cursor, int walk)
    {
        while (cursor.MoveNext())
        {
            if (cursor.Current.QueueWalk != walk)
            {
                return cursor.Current;
            }
        }

        return null;
    }

    private static int CompareByTokens(RequestState? x, RequestState? y)
    {
        int c = x!.Request.InputTokens.CompareTo(y!.Request.InputTokens);
        return c != 0 ? c : CompareIds(x, y);
    }

    private int CompareBySince(RequestState? x, RequestState? y)
    {
        int c = x!.Stamp(_since).CompareTo(y!.Stamp(_since));
        return c != 0 ? c : CompareIds(x, y);
    }

    private static int CompareIds(RequestState x, RequestState y)
    {
        int c = x.Request.Id.CompareTo(y.Request.Id);
        return c != 0 ? c : x.Sequence.CompareTo(y.Sequence);
    }

    /// <summary>Heap order of the requests looked at: heaviest first, then lowest id, then earliest arrival.</summary>
    private readonly record struct WeightKey(double NegativeWeight, long Id, long Sequence) : IComparable<WeightKey>
    {
        public int CompareTo(WeightKey other)
        {
            int c = NegativeWeight.CompareTo(other.NegativeWeight);
            if (c != 0)
            {
                return c;
            }

            c = Id.CompareTo(other.Id);
            return c != 0 ? c : Sequence.CompareTo(other.Sequence);
        }
    }
}
