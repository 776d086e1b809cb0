namespace MoePlan.Serving.Proxy;

/// <summary>What a policy may see of the deployment when it routes (the proxy's global view).</summary>
public interface IClusterView
{
    int PrefillInstances { get; }

    int DecodeInstances { get; }

    /// <summary>The proxy routes by prefix-cache depth (the plan's <c>apc on</c>).</summary>
    bool ApcAware { get; }

    /// <summary>Blocks the prefill instance could hold in its prefix cache.</summary>
    long PrefixCacheBlocks { get; }

    /// <summary>Prompt tokens one prefill step of an instance computes at most (the bundle's <c>omni_proxy_max_batch_num_token</c>).</summary>
    int PrefillTokenCap { get; }

    /// <summary>Leading blocks of the prompt the instance holds in its prefix cache now (the engines' KV events).</summary>
    int MatchedBlocks(int prefill, long[] blocks);

    /// <summary>Prompt tokens queued or running on the prefill instance, not yet computed.</summary>
    long PrefillQueuedTokens(int prefill);

    /// <summary>Requests queued or running on the prefill instance.</summary>
    int PrefillRequests(int prefill);

    int DecodeSequences(int decode);

    /// <summary>KV tokens reserved on the decode instance.</summary>
    double DecodeReservedTokens(int decode);

    /// <summary>The decode instance has a free sequence slot and KV room for the request.</summary>
    bool DecodeHasRoom(int decode, RequestState request);
}

/// <summary>
/// A routing policy: which prefill instance gets a request, which decode instance takes it, and the order of a
/// prefill instance's queue. One instance per simulation run (policies may keep state, e.g. a router-side tree).
/// </summary>
public interface IRoutingPolicy
{
    string Name { get; }

    /// <summary>Order prefill queues by Omni's weight (short and long-waiting first) rather than first come, first served.</summary>
    bool WeightedPrefillQueue { get; }

    /// <summary>A prefill instance, or -1 to hold the request at the proxy until a prefill step ends (Omni Proxy with every upstream at its caps).</summary>
    int ChoosePrefill(RequestState request, IClusterView view);

    /// <summary>A decode instance with room, or -1 when none has room (the request waits).</summary>
    int ChooseDecode(RequestState request, IClusterView view);
}
