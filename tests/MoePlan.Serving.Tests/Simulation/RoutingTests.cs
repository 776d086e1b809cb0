using MoePlan.Core.Diagnostics;
using MoePlan.Core.Workloads;
using MoePlan.Serving.Proxy;
using MoePlan.Serving.Simulation;
using MoePlan.Serving.Workloads;

namespace MoePlan.Serving.Tests.Simulation;

public sealed class RoutingTests
{
    /// <summary>DeepSeek-V3 on H800: three prefill instances, so routing decides where a prefix is cached.</summary>
    private static ServingMetrics RunMooncake(string policy)
    {
        var compiled = SimulationFixtures.Compile("deepseek-v3-h800.moe");
        var diagnostics = new List<Diagnostic>();
        using var reader = new StreamReader(SimulationFixtures.PathOf("plans", "data", "mooncake_synthetic_trace.jsonl"));
        var arrivals = MooncakeTraceReader.Read(reader, "mooncake.jsonl", diagnostics);
        var result = ServingRun.Simulate(compiled.Plan!, compiled.Cost, RoutingPolicies.Create(policy), arrivals);
        Assert.Empty(diagnostics);
        Assert.Equal(3993, result.CompletedCount + result.RejectedCount);
        return ServingMetrics.From(result);
    }

    [Fact]
    public void Apc_aware_routing_beats_round_robin_on_the_mooncake_trace()
    {
        var roundRobin = RunMooncake("round-robin");
        var omni = RunMooncake("omni");
        var cacheAware = RunMooncake("cache-aware");
        var globalProxy = RunMooncake("global-proxy");
        var kvCost = RunMooncake("kv-cost");
        Assert.True(omni.ApcHitRate > roundRobin.ApcHitRate + 0.1, $"omni {omni.ApcHitRate} vs round-robin {roundRobin.ApcHitRate}");
        Assert.True(cacheAware.ApcHitRate > roundRobin.ApcHitRate + 0.1, $"cache-aware {cacheAware.ApcHitRate} vs round-robin {roundRobin.ApcHitRate}");
        Assert.True(globalProxy.ApcHitRate > roundRobin.ApcHitRate + 0.1, $"global-proxy {globalProxy.ApcHitRate} vs round-robin {roundRobin.ApcHitRate}");
        Assert.True(kvCost.ApcHitRate > roundRobin.ApcHitRate + 0.1, $"kv-cost {kvCost.ApcHitRate} vs round-robin {roundRobin.ApcHitRate}");
    }

    [Fact]
    public void Prefix_cache_evicts_the_least_recently_used_block()
    {
        var cache = new PrefixCache(3);
        cache.Insert([1, 2]);
        cache.Insert([3]);
        Assert.Equal(2, cache.Match([1, 2, 9]));
        cache.Touch([1, 2], 2); // 3 is now the least recently used
        cache.Insert([4]);
        Assert.Equal(0, cache.Match([3]));
        Assert.Equal(2, cache.Match([1, 2]));
        Assert.Equal(1, cache.Match([4]));
        // A prefix stops at the first missing block.
        Assert.Equal(0, cache.Match([3, 1]));
    }

    [Fact]
    public void Zero_capacity_caches_nothing()
    {
        var cache = new PrefixCache(0);
        cache.Insert([1, 2]);
        Assert.Equal(0, cache.Count);
    }
}
