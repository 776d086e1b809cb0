using MoePlan.Scheduling;
using MoePlan.Serving.Proxy;

namespace MoePlan.Serving.Simulation;

public sealed partial class ServingSimulation
{
    /// <summary>
    /// Requests waiting for prefill: an instance's queue, or the proxy's held requests (instance -1). A step walks
    /// it in the policy's order and takes requests until its batch or the upstreams are full, so a walk must cost
    /// what it takes, not what waits: a trace whose requests share one timestamp leaves a million waiting, and
    /// sorting them at every step made the simulation quadratic (docs/reliability.md).
    /// <list type="bullet">
    /// <item>First come, first served: arrival order, taken requests left as holes and swept up in bulk.</item>
    /// <item>Omni's weight: a <see cref="WeightedPrefillQueue"/>, whose walk costs about what it takes.</item>
    /// <item>A script's priorities: the hook prices every waiting request (its API hands it the whole queue), so
    /// the queue is a list sorted in full at each walk, as before.</item>
    /// </list>
    /// </summary>
    private sealed class PrefillQueue
    {
        private readonly ServingSimulation _sim;
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

        public PrefillQueue(ServingSimulation sim, int instance, RequestStage since)
        {
            _sim = sim;
            _instance = instance;
            _order = sim._policy is ISchedulingHooks ? QueueOrder.Scripted : sim._policy.WeightedPrefillQueue ? QueueOrder.Weighted : QueueOrder.Arrival;
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
                            Remove(r);
                        }

                        return next;
                    });
                    break;
                default:
                    WalkScripted(t, step);
                    break;
            }
        }

        private void Remove(RequestState r)
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
                    Remove(r);
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
            _sim.ScriptOrder(_listed, _instance, t, order);
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
                Remove(r);
            }

            Array.Clear(_sorted, 0, n);
            _taken.Clear();
        }
    }
}
