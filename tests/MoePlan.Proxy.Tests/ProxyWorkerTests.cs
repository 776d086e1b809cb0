using System.Text.Json.Nodes;
using MoePlan.Core.Plan;
using MoePlan.Core.Workloads;
using MoePlan.Proxy.Engine;
using MoePlan.Proxy.Routing;
using MoePlan.Proxy.Server;
using MoePlan.Serving.Proxy;
using MoePlan.Serving.Simulation;

namespace MoePlan.Proxy.Tests;

/// <summary>
/// Proxy workers live, as the simulation models them (docs/simulation.md, "Proxy workers"): with shared state one
/// decision-maker sees every request in flight; with independent state requests go to the workers in turn and each
/// decides from what its own requests caused, so two workers can both send to the instance each thinks is idle.
/// </summary>
public sealed class ProxyWorkerTests
{
    /// <remarks>
    /// Two idle prefill instances, two requests of 1,000 tokens, least-load (fewest queued tokens, ties to the lowest
    /// index). Shared: the first goes to 0; the second sees 1,000 tokens queued on 0 and none on 1, so it goes to 1.
    /// Independent: the second request is worker 1's, whose view holds none of worker 0's tokens: both instances look
    /// idle, the tie goes to 0 again, and instance 0 gets both (the herding the simulation documents).
    /// </remarks>
    [Theory]
    [InlineData(ProxyWorkerState.Shared, 1)]
    [InlineData(ProxyWorkerState.Independent, 0)]
    public void Independent_workers_can_both_pick_the_same_least_loaded_instance(ProxyWorkerState state, int second)
    {
        var config = ServingConfig.FromPlan(TestPlans.Plan(TestPlans.Tiny)) with { PrefillInstances = 2, ProxyWorkers = 2, WorkerState = state };
        var view = new LiveClusterView(config, 2, 1);
        IRoutingPolicy[] policies = state == ProxyWorkerState.Shared ? [RoutingPolicies.Create("least-load")] : [RoutingPolicies.Create("least-load"), RoutingPolicies.Create("least-load")];
        var router = new ProxyRouter(policies, view, maxHeld: 8, state);
        var a = new RequestState(new ArrivingRequest(1, 0, 1000, 8, [101, 102]));
        var b = new RequestState(new ArrivingRequest(2, 0, 1000, 8, [201, 202]));
        Assert.True(router.Admit(a) && router.Admit(b));
        Assert.Equal(state == ProxyWorkerState.Shared ? (0, 0) : (0, 1), (a.Worker, b.Worker));

        Assert.Equal(0, router.ChoosePrefill(a));
        Assert.Equal(second, router.ChoosePrefill(b));

        // The whole record has both either way; with independent state each worker's has its own request only.
        Assert.Equal(2000, view.Prefill.Sum(p => p.QueuedTokens));
        if (state == ProxyWorkerState.Independent)
        {
            Assert.Equal([1000, 0], router.WorkerViews[0].Prefill.Select(p => p.QueuedTokens));
            Assert.Equal([1000, 0], router.WorkerViews[1].Prefill.Select(p => p.QueuedTokens));
        }

        // Finished, the records are empty again and the prompts' blocks are in the caches' records.
        router.PrefillFinished(a, succeeded: true);
        router.PrefillFinished(b, succeeded: true);
        Assert.All(router.WorkerViews.Append(view).SelectMany(v => v.Prefill), p => Assert.Equal((0, 0L), (p.Requests, p.QueuedTokens)));
        Assert.Equal(2, view.MatchedBlocks(second, [201, 202]));
        if (state == ProxyWorkerState.Independent)
        {
            // Worker 0 does not know what worker 1's request left in instance 0's cache.
            Assert.Equal(0, router.WorkerViews[0].MatchedBlocks(0, [201, 202]));
            Assert.Equal(2, router.WorkerViews[1].MatchedBlocks(0, [201, 202]));
        }
    }

    [Fact]
    public async Task A_proxy_with_independent_workers_serves_every_request()
    {
        var plan = TestPlans.Plan(TestPlans.Tiny);
        int made = 0;
        await using var deployment = await EmulatedDeployment.StartAsync(plan, TestPlans.Tiny.Cost, () =>
        {
            made++;
            return RoutingPolicies.Create("round-robin");
        }, speed: 20, prefillInstances: 2, decodeInstances: 1, configure: o => o with { Config = o.Config with { ProxyWorkers = 3, WorkerState = ProxyWorkerState.Independent } });
        Assert.Equal(3, made);
        Assert.Equal(3, deployment.Proxy.Router.Policies.Distinct().Count());
        using var client = new HttpClient { BaseAddress = deployment.Proxy.Address, Timeout = TimeSpan.FromSeconds(60) };
        for (int i = 0; i < 4; i++)
        {
            var reply = await LiveDeploymentTests.PostAsync(client, "/v1/completions", new JsonObject { ["model"] = "m", ["prompt"] = $"request {i}", ["max_tokens"] = 2 });
            Assert.Equal(2, reply["usage"]!["completion_tokens"]!.GetValue<int>());
        }

        // Round-robin per worker: requests 0, 1, 2 are the three workers' first, each worker's turn starts at prefill
        // 0, so all three go there; request 3 is worker 0's second: prefill 1. One shared turn would give 2 and 2.
        Assert.Equal((3, 1), (deployment.Prefill[0].Completed, deployment.Prefill[1].Completed));
        Assert.Equal(4, deployment.Proxy.Metrics.Count(RequestOutcome.Completed));
    }

    [Fact]
    public async Task One_policy_object_cannot_serve_independent_workers()
    {
        var plan = TestPlans.Plan(TestPlans.Tiny);
        await Assert.ThrowsAsync<ArgumentException>(() => EmulatedDeployment.StartAsync(plan, TestPlans.Tiny.Cost, RoutingPolicies.Create("round-robin"), 20,
            configure: o => o with { Config = o.Config with { ProxyWorkers = 2, WorkerState = ProxyWorkerState.Independent } }));
    }
}
