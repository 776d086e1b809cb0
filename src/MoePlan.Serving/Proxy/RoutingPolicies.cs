using MoePlan.Core.Plan;

namespace MoePlan.Serving.Proxy;

/// <summary>
/// Constructs the built-in policies of <see cref="RoutingPolicyCatalog"/> (the one list of names; the script policy is
/// made by MoePlan.Scripting).
/// </summary>
public static class RoutingPolicies
{
    /// <summary>A new policy of that kind (policies keep per-run state).</summary>
    public static IRoutingPolicy Create(RoutingPolicyKind kind) => kind switch
    {
        RoutingPolicyKind.Omni => new OmniPolicy(),
        RoutingPolicyKind.RoundRobin => new RoundRobinPolicy(),
        RoutingPolicyKind.LeastLoad => new LeastLoadPolicy(),
        RoutingPolicyKind.CacheAware => new CacheAwarePolicy(),
        RoutingPolicyKind.GlobalProxy => new GlobalProxyPolicy(),
        RoutingPolicyKind.KvCost => new KvCostPolicy(),
        RoutingPolicyKind.Script => throw new ArgumentException(ScriptNeedsFile),
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, null),
    };

    public static bool TryCreate(string name, out IRoutingPolicy? policy, out string? error)
    {
        var entry = RoutingPolicyCatalog.Find(name);
        policy = entry is { TakesScript: false } ? Create(entry.Kind) : null;
        error = policy is not null
            ? null
            : entry is { TakesScript: true }
                ? ScriptNeedsFile
                : $"unknown proxy policy '{name}'; built: {string.Join(", ", RoutingPolicyCatalog.BuiltNames)}";
        return policy is not null;
    }

    public static IRoutingPolicy Create(string name) =>
        TryCreate(name, out var policy, out var error) ? policy! : throw new ArgumentException(error);

    private static string ScriptNeedsFile =>
        $"a script policy needs its file: `policy script \"x.csx\"` in the plan or --scheduler FILE.csx; built: {string.Join(", ", RoutingPolicyCatalog.BuiltNames)}";

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
/// then fewest requests, skipping upstreams at their caps (a full step of queued tokens,
/// <c>omni_proxy_max_batch_num_token</c> as the bundle sets it, or <see cref="PrefillMaxNumSeqs"/> requests); when
/// every upstream is at its caps the request waits in the proxy (-1) until a prefill step ends. Prefill queues ordered by
/// 0.8 (maxTok - tok) / maxTok + 0.2 waited / max(maxWait, 50 ms); decode to the instance with the fewest tokens
/// among those with a free slot.
/// </summary>
public sealed class OmniPolicy : IRoutingPolicy
{
    /// <summary><c>omni_proxy_prefill_max_num_seqs</c>'s default (Omni-Infer omni_proxy README; the bundle leaves it unset).</summary>
    public const int PrefillMaxNumSeqs = 32;

    public string Name => RoutingPolicyCatalog.NameOf(RoutingPolicyKind.Omni);

    public bool WeightedPrefillQueue => true;

    public int ChoosePrefill(RequestState request, IClusterView view)
    {
        bool anyUnderCaps = false;
        for (int p = 0; p < view.PrefillInstances && !anyUnderCaps; p++)
        {
            anyUnderCaps = UnderCaps(p, view);
        }

        if (!anyUnderCaps)
        {
            return -1;
        }

        if (!view.ApcAware)
        {
            return RoutingPolicies.FewestPrefillTokens(view);
        }

        int best = -1, bestDepth = -1;
        for (int p = 0; p < view.PrefillInstances; p++)
        {
            if (!UnderCaps(p, view))
            {
                continue;
            }

            if (best < 0)
            {
                best = p;
            }

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

    private static bool UnderCaps(int prefill, IClusterView view) =>
        view.PrefillQueuedTokens(prefill) < view.PrefillTokenCap && view.PrefillRequests(prefill) < PrefillMaxNumSeqs;
}

/// <summary>Prefill and decode instances in turn (vLLM's disaggregated proxy default); first come, first served.</summary>
public sealed class RoundRobinPolicy : IRoutingPolicy
{
    private int _nextPrefill;
    private int _nextDecode;

    public string Name => RoutingPolicyCatalog.NameOf(RoutingPolicyKind.RoundRobin);

    public bool WeightedPrefillQueue => false;

    public int ChoosePrefill(RequestState request, IClusterView view)
    {
        int p = _nextPrefill;
        _nextPrefill = (_nextPrefill + 1) % view.PrefillInstances;
        return p;
    }

    public int ChooseDecode(RequestState request, IClusterView view)
    {
        // The next instance in turn that has room; the turn only advances when one is taken.
        for (int i = 0; i < view.DecodeInstances; i++)
        {
            int d = (_nextDecode + i) % view.DecodeInstances;
            if (view.DecodeHasRoom(d, request))
            {
                _nextDecode = (d + 1) % view.DecodeInstances;
                return d;
            }
        }

        return -1;
    }
}

/// <summary>Prefill to the fewest queued tokens, decode to the fewest running sequences; first come, first served.</summary>
public sealed class LeastLoadPolicy : IRoutingPolicy
{
    public string Name => RoutingPolicyCatalog.NameOf(RoutingPolicyKind.LeastLoad);

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

    private Simulation.PrefixCache[]? _trees;

    public string Name => RoutingPolicyCatalog.NameOf(RoutingPolicyKind.CacheAware);

    public bool WeightedPrefillQueue => false;

    public int ChoosePrefill(RequestState request, IClusterView view)
    {
        _trees ??= CreateTrees(view);
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
            for (int p = 0; p < _trees.Length; p++)
            {
                int depth = _trees[p].Match(request.Request.Blocks);
                if (depth > bestDepth)
                {
                    best = p;
                    bestDepth = depth;
                }

                if (_trees[p].Count < _trees[smallest].Count)
                {
                    smallest = p;
                }
            }

            double matchedTokens = Math.Min((double)bestDepth * MoePlan.Core.Workloads.ArrivingRequest.BlockTokens, request.Request.InputTokens);
            chosen = matchedTokens / request.Request.InputTokens > CacheThreshold ? best : smallest;
        }

        _trees[chosen].Insert(request.Request.Blocks);
        return chosen;
    }

    public int ChooseDecode(RequestState request, IClusterView view) => RoutingPolicies.FewestDecodeSequences(request, view);

    internal static Simulation.PrefixCache[] CreateTrees(IClusterView view)
    {
        var t = new Simulation.PrefixCache[view.PrefillInstances];
        for (int i = 0; i < t.Length; i++)
        {
            t[i] = new Simulation.PrefixCache(view.PrefixCacheBlocks);
        }

        return t;
    }
}

/// <summary>
/// Omni-Infer's first-generation Global Proxy (nginx modules). With APC-aware routing, prefix_cache_affinity:
/// the peer holding the longest chain of the prompt's blocks the proxy recorded sending there, ties by least
/// total load; on a miss (or with <c>apc off</c>), prefill_score_balance: a request costs
/// c = 0.0345 tokens + 120.07 (the module's linear estimate, its bytes / 4 taken as tokens), a peer's score is
/// T = 0.0345 queued tokens + 120.07 requests, and the peer whose score grows least, (T + c)(n + 1) - T n,
/// wins. Decode: fewest running sequences (weighted_least_active with equal weights). First come, first served.
/// </summary>
public sealed class GlobalProxyPolicy : IRoutingPolicy
{
    public const double CostPerToken = 0.0345, CostPerRequest = 120.07;

    private Simulation.PrefixCache[]? _records;

    public string Name => RoutingPolicyCatalog.NameOf(RoutingPolicyKind.GlobalProxy);

    public bool WeightedPrefillQueue => false;

    public int ChoosePrefill(RequestState request, IClusterView view)
    {
        _records ??= CacheAwarePolicy.CreateTrees(view);
        int chosen = -1;
        if (view.ApcAware)
        {
            int bestDepth = 0;
            for (int p = 0; p < _records.Length; p++)
            {
                int depth = _records[p].Match(request.Request.Blocks);
                if (depth > bestDepth || (depth == bestDepth && depth > 0 && Load(view, p) < Load(view, chosen)))
                {
                    chosen = p;
                    bestDepth = depth;
                }
            }
        }

        if (chosen < 0)
        {
            double c = (CostPerToken * request.Request.InputTokens) + CostPerRequest, bestGrowth = double.PositiveInfinity;
            for (int p = 0; p < view.PrefillInstances; p++)
            {
                double t = Load(view, p);
                int n = view.PrefillRequests(p);
                double growth = ((t + c) * (n + 1)) - (t * n);
                if (growth < bestGrowth)
                {
                    bestGrowth = growth;
                    chosen = p;
                }
            }
        }

        _records[chosen].Insert(request.Request.Blocks);
        return chosen;
    }

    public int ChooseDecode(RequestState request, IClusterView view) => RoutingPolicies.FewestDecodeSequences(request, view);

    private static double Load(IClusterView view, int p) => (CostPerToken * view.PrefillQueuedTokens(p)) + (CostPerRequest * view.PrefillRequests(p));
}

/// <summary>
/// NVIDIA Dynamo's KV router: cost = overlap_weight x prefill blocks needed + active blocks, lowest wins
/// (temperature 0, overlap_score_weight 1, Dynamo's defaults). Prefill: blocks of the prompt the instance's
/// cache lacks (all of them with <c>apc off</c>) plus the blocks queued on it; decode: the instance with the
/// fewest reserved KV blocks among those with room. First come, first served.
/// </summary>
public sealed class KvCostPolicy : IRoutingPolicy
{
    public const double OverlapWeight = 1.0;

    public string Name => RoutingPolicyCatalog.NameOf(RoutingPolicyKind.KvCost);

    public bool WeightedPrefillQueue => false;

    public int ChoosePrefill(RequestState request, IClusterView view)
    {
        int best = 0;
        double bestCost = double.PositiveInfinity;
        var blocks = request.Request.Blocks;
        for (int p = 0; p < view.PrefillInstances; p++)
        {
            int needed = blocks.Length - (view.ApcAware ? view.MatchedBlocks(p, blocks) : 0);
            double cost = (OverlapWeight * needed) + ((double)view.PrefillQueuedTokens(p) / MoePlan.Core.Workloads.ArrivingRequest.BlockTokens);
            if (cost < bestCost)
            {
                bestCost = cost;
                best = p;
            }
        }

        return best;
    }

    public int ChooseDecode(RequestState request, IClusterView view) => RoutingPolicies.FewestDecodeTokens(request, view);
}
