namespace MoePlan.Core.Plan;

/// <summary>How the proxy's worker processes see the deployment when they route.</summary>
public enum ProxyWorkerState
{
    /// <summary>Omni Proxy: one master decides for every worker from shared state (every instance's load and caches).</summary>
    Shared,

    /// <summary>Plain nginx: each worker routes its share of the requests from its own counters, which see only its own requests.</summary>
    Independent,
}
