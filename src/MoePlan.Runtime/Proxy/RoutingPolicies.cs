namespace MoePlan.Runtime.Proxy;

/// <summary>The built-in policies by the names the DSL accepts (<c>proxy { policy NAME }</c>).</summary>
public static class RoutingPolicies
{
    /// <summary>Policies the serving simulation has, in the order <c>--compare-policies</c> prints them.</summary>
    public static readonly IReadOnlyList<string> Built = ["omni", "round-robin", "least-load", "cache-aware"];

    /// <summary>Names the DSL accepts that the simulation does not have yet.</summary>
    public static readonly IReadOnlyList<string> NotBuilt = ["global-proxy", "kv-cost", "script"];

    public static bool TryCreate(string name, out IRoutingPolicy? policy, out string? error)
    {
        policy = name switch
        {
            "omni" => new OmniPolicy(),
            "round-robin" => new RoundRobinPolicy(),
            "least-load" => new LeastLoadPolicy(),
            "cache-aware" => new CacheAwarePolicy(),
            _ => null,
        };
        error = policy is not null
            ? null
            : NotBuilt.Contains(name)
                ? $"the proxy policy '{name}' is not in the serving simulation yet; built: {string.Join(", ", Built)}"
                : $"unknown proxy policy '{name}'; built: {string.Join(", ", Built)}";
        return policy is not null;
    }

    public static IRoutingPolicy Create(string name) =>
        TryCreate(name, out var policy, out var error) ? policy! : throw new ArgumentException(error);

    /// <summary>Decode instance with the fewest reserved KV tokens among those with room (Omni's decode rule).</summary>
    internal static int FewestDecodeTokens(RequestState request, IClusterView view)
    {
        int best = -1;
        for (int d = 0; d < view.DecodeInstances; d++)
        {
            if (view.DecodeHasRoom(d, request) && (best < 0 || view.DecodeReservedTokens(d) < view.DecodeReservedTokens(best)))
            {
                best = d;
            }
        }

        return best;
    }

    /// <summary>Decode instance with the fewest running sequences among those with room.</summary>
    internal static int FewestDecodeSequences(RequestState request, IClusterView view)
    {
        int best = -1;
        for (int d = 0; d < view.DecodeInstances; d++)
        {
            if (view.DecodeHasRoom(d, request) && (best < 0 || view.DecodeSequences(d) < view.DecodeSequences(best)))
            {
                best = d;
            }
        }

        return best;
    }

    /// <summary>Prefill instance with the fewest queued tokens, then the fewest requests, then the lowest index.</summary>
    internal static int FewestPrefillTokens(IClusterView view)
    {
        int best = 0;
        for (int p = 1; p < view.PrefillInstances; p++)
        {
            long tokens = view.PrefillQueuedTokens(p), bestTokens = view.PrefillQueuedTokens(best);
            if (tokens < bestTokens || (tokens == bestTokens && view.PrefillRequests(p) < view.PrefillRequests(best)))
            {
                best = p;
            }
        }

        return best;
    }
}

/// <summary>
/// Omni Proxy: prefill to the deepest APC match (from the engines' cached blocks), then fewest queued tokens,
/// then fewest requests; prefill queues ordered by 0.8 (maxTok - tok) / maxTok + 0.2 waited / max(maxWait, 50 ms);
/// decode to the instance with the fewest tokens among those with a free slot.
/// </summary>
public sealed class OmniPolicy : IRoutingPolicy
{
    public string Name => "omni";

    public bool WeightedPrefillQueue => true;

    public int ChoosePrefill(RequestState request, IClusterView view)
    {
        if (!view.ApcAware)
        {
            return RoutingPolicies.FewestPrefillTokens(view);
        }

        int best = 0, bestDepth = -1;
        for (int p = 0; p < view.PrefillInstances; p++)
        {
            int depth = view.MatchedBlocks(p, request.Request.Blocks);
            if (depth > bestDepth
                || (depth == bestDepth && (view.PrefillQueuedTokens(p) < view.PrefillQueuedTokens(best)
                    || (view.PrefillQueuedTokens(p) == view.PrefillQueuedTokens(best) && view.PrefillRequests(p) < view.PrefillRequests(best)))))
            {
                best = p;
                bestDepth = depth;
            }
        }

        return best;
    }

    public int ChooseDecode(RequestState request, IClusterView view) => RoutingPolicies.FewestDecodeTokens(request, view);
}

/// <summary>Prefill and decode instances in turn (vLLM's disaggregated proxy default); first come, first served.</summary>
public sealed class RoundRobinPolicy : IRoutingPolicy
{
    private int nextPrefill;
    private int nextDecode;

    public string Name => "round-robin";

    public bool WeightedPrefillQueue => false;

    public int ChoosePrefill(RequestState request, IClusterView view)
    {
        int p = nextPrefill;
        nextPrefill = (nextPrefill + 1) % view.PrefillInstances;
        return p;
    }

    public int ChooseDecode(RequestState request, IClusterView view)
    {
        // The next instance in turn that has room; the turn only advances when one is taken.
        for (int i = 0; i < view.DecodeInstances; i++)
        {
            int d = (nextDecode + i) % view.DecodeInstances;
            if (view.DecodeHasRoom(d, request))
            {
                nextDecode = (d + 1) % view.DecodeInstances;
                return d;
            }
        }

        return -1;
    }
}

/// <summary>Prefill to the fewest queued tokens, decode to the fewest running sequences; first come, first served.</summary>
public sealed class LeastLoadPolicy : IRoutingPolicy
{
    public string Name => "least-load";

    public bool WeightedPrefillQueue => false;

    public int ChoosePrefill(RequestState request, IClusterView view) => RoutingPolicies.FewestPrefillTokens(view);

    public int ChooseDecode(RequestState request, IClusterView view) => RoutingPolicies.FewestDecodeSequences(request, view);
}

/// <summary>
/// SGLang router's cache-aware rule (flags --cache-threshold 0.5, --balance-abs-threshold 32,
/// --balance-rel-threshold 1.0001): when the load is imbalanced ((max - min) &gt; 32 requests and
/// max &gt; 1.0001 min) route to the least-loaded worker; else to the best prefix match when its match rate
/// exceeds 0.5; else to the worker with the smallest tree. The tree is the router's own record of the blocks
/// it sent to each worker (not the engines' caches), evicted least recently used at the engine's cache size.
/// Decode goes to the fewest running sequences. First come, first served.
/// </summary>
public sealed class CacheAwarePolicy : IRoutingPolicy
{
    public const double CacheThreshold = 0.5;
    public const int BalanceAbsThreshold = 32;
    public const double BalanceRelThreshold = 1.0001;

    private Simulation.PrefixCache[]? trees;

    public string Name => "cache-aware";

    public bool WeightedPrefillQueue => false;

    public int ChoosePrefill(RequestState request, IClusterView view)
    {
        trees ??= CreateTrees(view);
        int min = int.MaxValue, max = int.MinValue, leastLoaded = 0;
        for (int p = 0; p < view.PrefillInstances; p++)
        {
            int load = view.PrefillRequests(p);
            if (load < min)
            {
                min = load;
                leastLoaded = p;
            }

            max = Math.Max(max, load);
        }

        int chosen;
        if (max - min > BalanceAbsThreshold && max > BalanceRelThreshold * min)
        {
            chosen = leastLoaded;
        }
        else
        {
            int best = 0, bestDepth = -1, smallest = 0;
            for (int p = 0; p < trees.Length; p++)
            {
                int depth = trees[p].Match(request.Request.Blocks);
                if (depth > bestDepth)
                {
                    best = p;
                    bestDepth = depth;
                }

                if (trees[p].Count < trees[smallest].Count)
                {
                    smallest = p;
                }
            }

            double matchedTokens = Math.Min((double)bestDepth * Workloads.ArrivingRequest.BlockTokens, request.Request.InputTokens);
            chosen = matchedTokens / request.Request.InputTokens > CacheThreshold ? best : smallest;
        }

        trees[chosen].Insert(request.Request.Blocks);
        return chosen;
    }

    public int ChooseDecode(RequestState request, IClusterView view) => RoutingPolicies.FewestDecodeSequences(request, view);

    private static Simulation.PrefixCache[] CreateTrees(IClusterView view)
    {
        var t = new Simulation.PrefixCache[view.PrefillInstances];
        for (int i = 0; i < t.Length; i++)
        {
            t[i] = new Simulation.PrefixCache(view.PrefixCacheBlocks);
        }

        return t;
    }
}
