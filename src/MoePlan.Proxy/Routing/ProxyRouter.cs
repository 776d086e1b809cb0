using MoePlan.Core.Plan;
using MoePlan.Core.Workloads;
using MoePlan.Scheduling;
using MoePlan.Serving.Proxy;

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
/// A policy's "hold" (-1: Omni with every prefill at its caps, or no decode with room) parks the request in the proxy,
/// in arrival order, until an upstream frees up, as the simulation does; beyond <see cref="MaxHeld"/> held requests a
/// request is refused. One lock serialises the decisions (policies keep state and are not thread-safe).
/// </summary>
public sealed class ProxyRouter : IDisposable
{
    private readonly object _gate = new();
    private readonly IRoutingPolicy _policy;
    private readonly LiveClusterView _view;
    private readonly List<(RequestState Request, TaskCompletionSource<int> Routed)> _heldPrefill = [];
    private readonly List<(RequestState Request, TaskCompletionSource<int> Routed)> _heldDecode = [];
    private long _promptTokens;
    private long _cachedTokens;

    public ProxyRouter(IRoutingPolicy policy, LiveClusterView view, int maxHeld)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxHeld, 0);
        _policy = policy;
        _view = view;
        MaxHeld = maxHeld;
    }

    public IRoutingPolicy Policy => _policy;

    public LiveClusterView View => _view;

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

    /// <summary>A scheduler script's admission hook (built-ins admit every request).</summary>
    public bool Admit(RequestState request)
    {
        lock (_gate)
        {
            request.Stamp(RequestStage.Received, request.Request.ArrivalMilliseconds);
            return _policy is not ISchedulingHooks hooks || hooks.Admit(request, _view);
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
            var p = _view.Prefill[request.PrefillInstance];
            p.Requests--;
            p.QueuedTokens -= request.Request.InputTokens - request.CachedTokens;
            if (succeeded)
            {
                p.Cache.Insert(request.Request.Blocks);
            }

            ReleaseLocked();
        }
    }

    /// <summary>The request left its decode instance (done or failed): its slot and KV reservation are free.</summary>
    public void DecodeFinished(RequestState request)
    {
        lock (_gate)
        {
            var d = _view.Decode[request.DecodeInstance];
            d.Sequences--;
            d.ReservedTokens -= request.DecodeTokens;
            ReleaseLocked();
        }
    }

    /// <summary>Marks an upstream down (it refused, timed out or died) or up again (a health probe answered).</summary>
    public void SetUp(PoolRole pool, int instance, bool up)
    {
        lock (_gate)
        {
            if (pool == PoolRole.Prefill)
            {
                var p = _view.Prefill[instance];
                if (p.Up && !up)
                {
                    // What it cached is gone with it (a restarted engine starts cold).
                    p.Cache = new Serving.Simulation.PrefixCache(_view.PrefixCacheBlocks);
                }

                p.Up = up;
            }
            else
            {
                _view.Decode[instance].Up = up;
            }

            ReleaseLocked();
        }
    }

    /// <summary>Disposes the policy (a scheduler script's host) once no decision is under way; the proxy stops with it.</summary>
    public void Dispose()
    {
        lock (_gate)
        {
            (_policy as IDisposable)?.Dispose();
        }
    }

    public bool IsUp(PoolRole pool, int instance)
    {
        lock (_gate)
        {
            return pool == PoolRole.Prefill ? _view.Prefill[instance].Up : _view.Decode[instance].Up;
        }
    }

    private async Task<int> RouteAsync(RequestState request, PoolRole pool, CancellationToken cancellation)
    {
        TaskCompletionSource<int> routed;
        lock (_gate)
        {
            var held = pool == PoolRole.Prefill ? _heldPrefill : _heldDecode;
            int chosen = held.Count > 0 ? -1 : Choose(request, pool);
            if (chosen >= 0)
            {
                return chosen;
            }

            if (_heldPrefill.Count + _heldDecode.Count >= MaxHeld)
            {
                throw new ProxyQueueFullException();
            }

            routed = new TaskCompletionSource<int>(TaskCreationOptions.RunContinuationsAsynchronously);
            held.Add((request, routed));
            if (pool == PoolRole.Prefill)
            {
                _view.Held.Add(request);
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
            var held = pool == PoolRole.Prefill ? _heldPrefill : _heldDecode;
            if (held.RemoveAll(h => h.Routed == routed) > 0)
            {
                _view.Held.Remove(request);
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

    /// <summary>Routes held requests in arrival order while the policy places them (the simulation's release of held requests).</summary>
    private void ReleaseLocked()
    {
        Release(_heldPrefill, PoolRole.Prefill);
        Release(_heldDecode, PoolRole.Decode);
    }

    private void Release(List<(RequestState Request, TaskCompletionSource<int> Routed)> held, PoolRole pool)
    {
        while (held.Count > 0)
        {
            var (request, routed) = held[0];
            int chosen = pool == PoolRole.Prefill ? ChoosePrefillLocked(request) : ChooseDecodeLocked(request);
            if (chosen == -1)
            {
                return;
            }

            held.RemoveAt(0);
            if (pool == PoolRole.Prefill)
            {
                _view.Held.Remove(request);
            }

            if (chosen == -2)
            {
                routed.TrySetException(new NoUpstreamException(pool));
            }
            else if (!routed.TrySetResult(chosen))
            {
                // Abandoned meanwhile: give the slot back.
                Unroute(request, pool);
            }
        }
    }

    private void Unroute(RequestState request, PoolRole pool)
    {
        if (pool == PoolRole.Prefill)
        {
            var p = _view.Prefill[request.PrefillInstance];
            p.Requests--;
            p.QueuedTokens -= request.Request.InputTokens - request.CachedTokens;
        }
        else
        {
            var d = _view.Decode[request.DecodeInstance];
            d.Sequences--;
            d.ReservedTokens -= request.DecodeTokens;
        }
    }

    /// <returns>The instance, -1 to hold, -2 when every prefill upstream is down.</returns>
    private int ChoosePrefillLocked(RequestState request)
    {
        if (!_view.Prefill.Any(p => p.Up))
        {
            return -2;
        }

        int chosen = _policy.ChoosePrefill(request, _view);
        if (chosen < 0)
        {
            return -1;
        }

        if (!_view.Prefill[chosen].Up)
        {
            chosen = FewestQueuedUp();
        }

        var p = _view.Prefill[chosen];
        // The engine's prefix cache serves what it holds whether or not the policy routes by it.
        int matched = p.Cache.Match(request.Request.Blocks);
        int cached = (int)Math.Min((long)matched * ArrivingRequest.BlockTokens, request.Request.InputTokens - 1);
        request.PrefillInstance = chosen;
        request.CachedTokens = cached;
        request.Stamp(RequestStage.PrefillWaiting, _view.NowMilliseconds);
        p.Requests++;
        p.QueuedTokens += request.Request.InputTokens - cached;
        _promptTokens += request.Request.InputTokens;
        _cachedTokens += cached;
        return chosen;
    }

    private int ChooseDecodeLocked(RequestState request)
    {
        if (!_view.Decode.Any(d => d.Up))
        {
            return -2;
        }

        int chosen = _policy.ChooseDecode(request, _view);
        if (chosen < 0)
        {
            return -1;
        }

        var d = _view.Decode[chosen];
        request.DecodeInstance = chosen;
        request.Stamp(RequestStage.DecodeScheduled, _view.NowMilliseconds);
        d.Sequences++;
        d.ReservedTokens += request.DecodeTokens;
        return chosen;
    }

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
