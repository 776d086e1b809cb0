using System.Text.Json;
using MoePlan.Core.Diagnostics;
using MoePlan.Core.Plan;
using MoePlan.Core.Workloads;
using MoePlan.Serving.Proxy;
using MoePlan.Serving.Simulation;
using MoePlan.Serving.Workloads;

namespace MoePlan.Serving.Tests.Simulation;

/// <summary>Proxy workers: one master over shared state (Omni Proxy) against independent workers with their own views (nginx).</summary>
public sealed class ProxyWorkerTests
{
    private static ServingMetrics RunMooncake(string policy, int workers, ProxyWorkerState state)
    {
        var compiled = SimulationFixtures.Compile("deepseek-v3-h800.moe");
        var config = ServingConfig.FromPlan(compiled.Plan!) with { ProxyWorkers = workers, WorkerState = state };
        var diagnostics = new List<Diagnostic>();
        using var reader = new StreamReader(SimulationFixtures.PathOf("plans", "data", "mooncake_synthetic_trace.jsonl"));
        var arrivals = MooncakeTraceReader.Read(reader, "mooncake.jsonl", diagnostics);
        var policies = Enumerable.Range(0, workers).Select(_ => RoutingPolicies.Create(policy)).ToArray();
        var result = ServingRun.Simulate(config, compiled.Plan!, compiled.Cost, policies, arrivals);
        Assert.Empty(diagnostics);
        return ServingMetrics.From(result);
    }

    [Theory]
    [InlineData("omni")]
    [InlineData("least-load")]
    public void One_independent_worker_sees_everything_so_it_routes_as_the_master(string policy)
    {
        var shared = RunMooncake(policy, 1, ProxyWorkerState.Shared);
        var alone = RunMooncake(policy, 1, ProxyWorkerState.Independent);
        Assert.Equal(JsonSerializer.Serialize(shared), JsonSerializer.Serialize(alone));
        // Shared state does not depend on how many workers accept connections.
        Assert.Equal(JsonSerializer.Serialize(shared), JsonSerializer.Serialize(RunMooncake(policy, 4, ProxyWorkerState.Shared)));
    }

    [Fact]
    public void Independent_workers_lose_prefix_hits_that_shared_state_finds()
    {
        // Each of 4 workers knows only the blocks its own quarter of the requests left in the caches, so a request
        // whose prefix another worker cached goes elsewhere: fewer hits than with the master's global view.
        var shared = RunMooncake("omni", 4, ProxyWorkerState.Shared);
        var independent = RunMooncake("omni", 4, ProxyWorkerState.Independent);
        Assert.True(independent.ApcHitRate < shared.ApcHitRate - 0.02, $"independent {independent.ApcHitRate} vs shared {shared.ApcHitRate}");
        Assert.Equal(shared.Completed + shared.Rejected, independent.Completed + independent.Rejected);
    }
}
