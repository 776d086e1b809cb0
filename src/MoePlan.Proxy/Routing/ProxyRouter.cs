using MoePlan.Core.Plan;
using MoePlan.Core.Workloads;
using MoePlan.Scheduling;
using MoePlan.Serving.Proxy;
using MoePlan.Serving.Simulation;

namespace MoePlan.Proxy.Routing;

/// <summary>The proxy holds more requests than its queue bound: the client gets 429 with Retry-After.</summary>
public sealed class ProxyQueueFullException() : Exception("the proxy's queue is full");

/// <summary>Every upstream of a pool is marked down: the client gets 503.</summary>
public sealed class NoUpstreamException(PoolRole pool) : Exception($"no {(pool == PoolRole.Prefill ? "prefill" : "decode")} upstream is up")
{
    public PoolRole Pool => pool;
}

/// <summary>
/// The live proxy's routing: the plan's policy object (a built-in or a scheduler script, as the simulation makes it)
/// decides on the <see cref="LiveClusterView"/>, and the router keeps that view true as requests are sent and finish.
/// A policy's "hold" (-1: Omni with every prefill at its caps, or no decode with room) parks the request in the proxy
/// until an upstream frees up, as the simulation does: requests held for a prefill wait in the simulation's own
/// <see cref="PrefillQueue"/> (Omni's weight by prompt tokens and wait, a script's <c>PrefillPriority</c>, or arrival
/// order, as the policy says), those held for a decode in arrival order; beyond <see cref="MaxHeld"/> held requests a
/// request is refused. One lock serialises the decisions (policies keep state and are not thread-safe).
/// <para>
/// Proxy workers, as the simulation has them (docs/simulation.md): with shared state one policy decides on the whole
/// record (Omni Proxy's master); with independent state requests go to the workers in turn (round-robin, as
/// connections spread over nginx workers) and each worker decides with its own policy object on a view of only what
/// its own requests caused (<see cref="LiveClusterView.ForWorker"/>); whether a decode upstream has room, the health
/// of the upstreams and a script's view of the cluster stay the whole proxy's.
/// </para>
/// </summary>
public sealed class ProxyRouter : IDisposable
{
    private readonly object _gate = new();
    private readonly IRoutingPolicy[] _policies;
    private readonly LiveClusterView _view;
    private readonly LiveClusterView[] _workerViews;
    private readonly bool _independent;
    private readonly PrefillQueue _heldPrefill;
    private readonly Dictionary<RequestState, TaskCompletionSource<int>> _heldPrefillRouted = new(ReferenceEqualityComparer.Instance);
    private readonly List<(RequestState Request, TaskCompletionSource<int> Routed)> _heldDecode = [];
    private long _admitted;
    private long _promptTokens;
    private long _cachedTokens;

    /// <summary>One worker over shared state.</summary>
    public ProxyRouter(IRoutingPolicy policy, LiveClusterView view, int maxHeld)
        : this([policy], view, maxHeld, ProxyWorkerState.Shared)
    {
    }

    /// <param name="policies">With shared state one policy; with independent state one per worker (a policy keeps state of its own).</param>
    public ProxyRouter(IReadOnlyList<IRoutingPolicy> policies, LiveClusterView view, int maxHeld, ProxyWorkerState state)
    {
        ArgumentNullException.ThrowIfNull(policies);
        ArgumentNullException.ThrowIfNull(view);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxHeld, 0);
        _independent = state == ProxyWorkerState.Independent;
        if (policies.Count < 1 || (!_independent && policies.Count != 1))
        {
            throw new ArgumentException($"{(_independent ? "independent workers need a policy each" : "shared state has one policy")}, not {policies.Count}", nameof(policies));
        }

        _policies = [.. policies];
        _view = view;
        _workerViews = _independent ? [.. policies.Select(_ => view.ForWorker())] : [view];
        MaxHeld = maxHeld;
        // The proxy's own queue, in the first worker's policy's order as the simulation's: waits count from the APC match.
        _heldPrefill = new PrefillQueue(_policies[0], view, -1, RequestStage.ApcMatched);
        view.Held = _heldPrefill;
    }

    /// <summary>The (first worker's) policy: the one that decides with shared state.</summary>
    public IRoutingPolicy Policy => _policies[0];

    /// <summary>The policy of each worker view (one with shared state).</summary>
    public IReadOnlyList<IRoutingPolicy> Policies => _policies;

    public ProxyWorkerState WorkerState => _independent ? ProxyWorkerState.Independent : ProxyWorkerState.Shared;

    /// <summary>The whole proxy's record (every request in flight).</summary>
    public LiveClusterView View => _view;

    /// <summary>What each worker decides on: its own record with independent state, the whole one with shared.</summary>
    public IReadOnlyList<LiveClusterView> WorkerViews => _workerViews;

    public int MaxHeld { get; }

    /// <summary>Requests held in the proxy now.</summary>
    public int Held
    {
        get
        {
            lock (_gate)
            {
                return _heldPrefill.Count + _heldDecode.Count;
            }
        }
    }

    /// <summary>Prompt tokens the record's prefix caches served over prompt tokens routed (the APC hit ratio the proxy sees).</summary>
    public double ApcHitRatio
    {
        get
        {
            lock (_gate)
            {
                return _promptTokens == 0 ? 0 : (double)_cachedTokens / _promptTokens;
            }
        }
    }

    /// <summary>
    /// A new request: given to the next worker in turn (independent state), then a scheduler script's admission hook
    /// (built-ins admit every request).
    /// </summary>
    public bool Admit(RequestState request)
    {
        lock (_gate)
        {
            request.Worker = (int)(_admitted++ % _policies.Length);
            request.Stamp(RequestStage.Received, request.Request.ArrivalMilliseconds);
            return _policies[0] is not ISchedulingHooks hooks || hooks.Admit(request, _view);
        }
    }

    /// <summary>
    /// The policy's prefill choice for the request on the view as it is now, and the view updated as if it were sent
    /// there; -1 when the policy holds it. A marked-down choice goes to the up instance with the fewest queued tokens.
    /// </summary>
    public int ChoosePrefill(RequestState request)
    {
        lock (_gate)
        {
            return ChoosePrefillLocked(request);
        }
    }

    /// <summary>The policy's decode choice and the slot reserved; -1 when no decode instance has room.</summary>
    public int ChooseDecode(RequestState request)
    {
        lock (_gate)
        {
            return ChooseDecodeLocked(request);
        }
    }

    /// <summary>A prefill instance for the request, waiting in the proxy while the policy holds it.</summary>
    public Task<int> RoutePrefillAsync(RequestState request, CancellationToken cancellation) => RouteAsync(request, PoolRole.Prefill, cancellation);

    /// <summary>A decode instance with room for the request, waiting in the proxy while none has room.</summary>
    public Task<int> RouteDecodeAsync(RequestState request, CancellationToken cancellation) => RouteAsync(request, PoolRole.Decode, cancellation);

    /// <summary>The request's prefill ended (or failed): its load leaves the instance; on success its blocks enter the record of the instance's cache.</summary>
    public void PrefillFinished(RequestState request, bool succeeded)
    {
        lock (_gate)
        {
            LeavePrefill(request, succeeded);
            ReleaseLocked();
        }
    }

    /// <summary>The request left its decode instance (done or failed): its slot and KV reservation are free.</summary>
    public void DecodeFinished(RequestState request)
    {
        lock (_gate)
        {
            LeaveDecode(request);
            ReleaseLocked();
        }
    }

    /// <summary>Marks an upstream down (it refused, timed out or died) or up again (a health probe answered), in every view.</summary>
    public void SetUp(PoolRole pool, int instance, bool up)
    {
        lock (_gate)
        {
            foreach (var view in Views())
            {
                if (pool == PoolRole.Prefill)
                {
                    var p = view.Prefill[instance];
                    if (p.Up && !up)
                    {
                        // What it cached is gone with it (a restarted engine starts cold).
                        p.Cache = new PrefixCache(view.PrefixCacheBlocks);
                    }

                    p.Up = up;
                }
                else
                {
                    view.Decode[instance].Up = up;
                }
            }

            ReleaseLocked();
        }
    }

    public bool IsUp(PoolRole pool, int instance)
    {
        lock (_gate)
        {
            return pool == PoolRole.Prefill ? _view.Prefill[instance].Up : _view.Decode[instance].Up;
        }
    }

    /// <summary>Disposes the policies (a scheduler script's host) once no decision is under way; the proxy stops with them.</summary>
    public void Dispose()
    {
        lock (_gate)
        {
            foreach (var policy in _policies)
            {
                (policy as IDisposable)?.Dispose();
            }
        }
    }

    private async Task<int> RouteAsync(RequestState request, PoolRole pool, CancellationToken cancellation)
    {
        TaskCompletionSource<int> routed;
        lock (_gate)
        {
            bool prefill = pool == PoolRole.Prefill;
            if (prefill && double.IsNaN(request.Stamp(RequestStage.ApcMatched)))
            {
                // Tokenised and matched against the cache records: its wait in the proxy's queue starts now.
                request.Stamp(RequestStage.ApcMatched, _view.NowMilliseconds);
            }

            int chosen = (prefill ? _heldPrefill.Count : _heldDecode.Count) > 0 ? -1 : Choose(request, pool);
            if (chosen >= 0)
            {
                return chosen;
            }

            if (_heldPrefill.Count + _heldDecode.Count >= MaxHeld)
            {
                throw new ProxyQueueFullException();
            }

            routed = new TaskCompletionSource<int>(TaskCreationOptions.RunContinuationsAsynchronously);
            if (prefill)
            {
                _heldPrefill.Add(request);
                _heldPrefillRouted.Add(request, routed);
            }
            else
            {
                _heldDecode.Add((request, routed));
            }
        }

        using (cancellation.Register(() => Abandon(request, pool, routed)))
        {
            return await routed.Task.ConfigureAwait(false);
        }
    }

    private void Abandon(RequestState request, PoolRole pool, TaskCompletionSource<int> routed)
    {
        lock (_gate)
        {
            bool removed = pool == PoolRole.Prefill
                ? _heldPrefillRouted.Remove(request) && _heldPrefill.Remove(request)
                : _heldDecode.RemoveAll(h => h.Routed == routed) > 0;
            if (removed)
            {
                routed.TrySetCanceled();
            }
        }
    }

    private int Choose(RequestState request, PoolRole pool)
    {
        int chosen = pool == PoolRole.Prefill ? ChoosePrefillLocked(request) : ChooseDecodeLocked(request);
        if (chosen == -2)
        {
            throw new NoUpstreamException(pool);
        }

        return chosen;
    }

    /// <summary>
    /// Routes held requests while the policy places them, as the simulation releases its held queue: those held for a
    /// prefill in the queue's order, those for a decode in arrival order. With shared state a hold means every
    /// upstream is at its caps, so the first hold ends the pass; each independent worker has its own view, so every
    /// held request is asked.
    /// </summary>
    private void ReleaseLocked()
    {
        if (_heldPrefill.Count > 0)
        {
            _heldPrefill.Walk(_view.NowMilliseconds, request =>
            {
                int chosen = ChoosePrefillLocked(request);
                if (chosen == -1)
                {
                    return _independent ? QueueStep.Keep : QueueStep.Stop;
                }

                _heldPrefillRouted.Remove(request, out var routed);
                Routed(request, PoolRole.Prefill, routed!, chosen);
                return QueueStep.Take;
            });
        }

        for (int i = 0; i < _heldDecode.Count;)
        {
            var (request, routed) = _heldDecode[i];
            int chosen = ChooseDecodeLocked(request);
            if (chosen == -1)
            {
                if (!_independent)
                {
                    return;
                }

                i++;
                continue;
            }

            _heldDecode.RemoveAt(i);
            Routed(request, PoolRole.Decode, routed, chosen);
        }
    }

    /// <summary>A held request leaves the proxy: to its instance, or failed when every upstream of the pool is down (-2).</summary>
    private void Routed(RequestState request, PoolRole pool, TaskCompletionSource<int> routed, int chosen)
    {
        if (chosen == -2)
        {
            routed.TrySetException(new NoUpstreamException(pool));
        }
        else if (!routed.TrySetResult(chosen))
        {
            // Abandoned meanwhile: give the slot back.
            if (pool == PoolRole.Prefill)
            {
                LeavePrefill(request, succeeded: false);
            }
            else
            {
                LeaveDecode(request);
            }
        }
    }

    /// <returns>The instance, -1 to hold, -2 when every prefill upstream is down.</returns>
    private int ChoosePrefillLocked(RequestState request)
    {
        if (!_view.Prefill.Any(p => p.Up))
        {
            return -2;
        }

        int worker = Worker(request);
        int chosen = _policies[worker].ChoosePrefill(request, _workerViews[worker]);
        if (chosen < 0)
        {
            return -1;
        }

        if (!_view.Prefill[chosen].Up)
        {
            chosen = FewestQueuedUp();
        }

        // The engine's prefix cache serves what it holds whether or not the policy routes by it.
        int cached = Enter(_view.Prefill[chosen], request);
        request.PrefillInstance = chosen;
        request.CachedTokens = cached;
        request.Stamp(RequestStage.PrefillWaiting, _view.NowMilliseconds);
        if (_independent)
        {
            // The worker's own record counts what its own record of the cache serves (the simulation's worker view).
            request.WorkerCachedTokens = Enter(_workerViews[worker].Prefill[chosen], request);
        }

        _promptTokens += request.Request.InputTokens;
        _cachedTokens += cached;
        return chosen;
    }

    /// <summary>The request enters a record of a prefill instance: its tokens less what the record's cache serves, which it returns.</summary>
    private static int Enter(PrefillLoad p, RequestState request)
    {
        int matched = p.Cache.Match(request.Request.Blocks);
        int cached = (int)Math.Min((long)matched * ArrivingRequest.BlockTokens, request.Request.InputTokens - 1);
        p.Requests++;
        p.QueuedTokens += request.Request.InputTokens - cached;
        return cached;
    }

    private void LeavePrefill(RequestState request, bool succeeded)
    {
        Leave(_view.Prefill[request.PrefillInstance], request, request.CachedTokens, succeeded);
        if (_independent)
        {
            Leave(_workerViews[Worker(request)].Prefill[request.PrefillInstance], request, request.WorkerCachedTokens, succeeded);
        }
    }

    private static void Leave(PrefillLoad p, RequestState request, int cached, bool succeeded)
    {
        p.Requests--;
        p.QueuedTokens -= request.Request.InputTokens - cached;
        if (succeeded)
        {
            p.Cache.Insert(request.Request.Blocks);
        }
    }

    private int ChooseDecodeLocked(RequestState request)
    {
        if (!_view.Decode.Any(d => d.Up))
        {
            return -2;
        }

        int worker = Worker(request);
        int chosen = _policies[worker].ChooseDecode(request, _workerViews[worker]);
        if (chosen < 0)
        {
            return -1;
        }

        request.DecodeInstance = chosen;
        request.Stamp(RequestStage.DecodeScheduled, _view.NowMilliseconds);
        foreach (var view in DecisionViews(worker))
        {
            view.Decode[chosen].Sequences++;
            view.Decode[chosen].ReservedTokens += request.DecodeTokens;
        }

        return chosen;
    }

    private void LeaveDecode(RequestState request)
    {
        foreach (var view in DecisionViews(Worker(request)))
        {
            view.Decode[request.DecodeInstance].Sequences--;
            view.Decode[request.DecodeInstance].ReservedTokens -= request.DecodeTokens;
        }
    }

    /// <summary>The request's worker (0 for one that never passed <see cref="Admit"/>: a test's, or shared state's).</summary>
    private int Worker(RequestState request) => request.Worker < _policies.Length ? request.Worker : 0;

    /// <summary>The whole record, and the worker's own with independent state.</summary>
    private IEnumerable<LiveClusterView> DecisionViews(int worker) => _independent ? [_view, _workerViews[worker]] : [_view];

    private IEnumerable<LiveClusterView> Views() => _independent ? [_view, .. _workerViews] : [_view];

    private int FewestQueuedUp()
    {
        int best = -1;
        for (int p = 0; p < _view.Prefill.Length; p++)
        {
            if (_view.Prefill[p].Up && (best < 0 || _view.Prefill[p].QueuedTokens < _view.Prefill[best].QueuedTokens))
            {
                best = p;
            }
        }

        return best;
    }
}
