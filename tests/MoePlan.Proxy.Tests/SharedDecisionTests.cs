using MoePlan.Core.Diagnostics;
using MoePlan.Core.Plan;
using MoePlan.Proxy.Routing;
using MoePlan.Scripting;
using MoePlan.Serving.Proxy;
using MoePlan.Serving.Simulation;
using MoePlan.Tests.Support;

namespace MoePlan.Proxy.Tests;

/// <summary>
/// The live proxy decides as the simulation does: during a simulated run of a real trace, at every routing decision
/// the simulation's state (queued tokens, requests, cached prefix depth per prefill instance; sequences and reserved
/// KV per decode instance) is put into the proxy's <see cref="LiveClusterView"/>, and the proxy's router, with its own
/// instance of the same policy, must choose what the simulation's policy chose. Stateful policies (round-robin's turn,
/// cache-aware's and global-proxy's trees, the script) stay in step because both see the same sequence of requests.
/// </summary>
public sealed class SharedDecisionTests
{
    public static TheoryData<string> Policies()
    {
        var data = new TheoryData<string>();
        foreach (var name in RoutingPolicyCatalog.BuiltNames)
        {
            data.Add(name);
        }

        data.Add("cache-affinity.csx");
        return data;
    }

    [Theory]
    [MemberData(nameof(Policies))]
    public void ProxyChoosesWhatTheSimulationChooses(string name)
    {
        var compiled = TestPlans.Scripted;
        var plan = TestPlans.Plan(compiled);
        var planFile = RepositoryPaths.PathOf("plans", "qwen1.5-moe-scripted.moe");
        var choice = name.EndsWith(".csx", StringComparison.Ordinal) ? new PolicyChoice() : new PolicyChoice(Policy: name);
        var (policies, diagnostics) = ServingPolicies.Resolve(planFile, plan, choice);
        Assert.True(policies is not null, string.Join('\n', diagnostics));
        Assert.Equal(name, policies!.Names.Single());

        var config = ServingConfig.FromPlan(plan);
        var live = new LiveClusterView(config, config.PrefillInstances, config.DecodeInstances);
        var router = new ProxyRouter(policies.Create(name), live, maxHeld: 1);
        var simulated = policies.Create(name);
        IRoutingPolicy mirror = simulated is ISchedulingHooks ? new MirroringScriptPolicy(simulated, router, live) : new MirroringPolicy(simulated, router, live);

        var read = new List<Diagnostic>();
        var arrivals = ServingRun.Arrivals(plan, Path.GetDirectoryName(planFile)!, null, 400, null, read).ToList();
        Assert.Empty(read);
        var result = ServingRun.Simulate(config, plan, compiled.Cost, [mirror], arrivals);

        var m = (MirroringPolicy)mirror;
        Assert.Equal(400, result.CompletedCount + result.RejectedCount);
        // Every request routed once to prefill and once to decode, plus the retries of held ones.
        Assert.True(m.PrefillDecisions >= 400 && m.DecodeDecisions >= 400, $"{m.PrefillDecisions} prefill, {m.DecodeDecisions} decode decisions");
        Assert.True(m.Mismatches.Count == 0, $"{m.Mismatches.Count} decisions differ; first: {string.Join("; ", m.Mismatches.Take(3))}");
        // The trace shares prefixes, so cache depth decided something: some prefill choice saw a cached prefix.
        Assert.True(m.DecisionsWithCachedPrefix > 0);
    }

    private class MirroringPolicy(IRoutingPolicy inner, ProxyRouter router, LiveClusterView live) : IRoutingPolicy
    {
        public List<string> Mismatches { get; } = [];

        public int PrefillDecisions { get; private set; }

        public int DecodeDecisions { get; private set; }

        public int DecisionsWithCachedPrefix { get; private set; }

        public string Name => inner.Name;

        public bool WeightedPrefillQueue => inner.WeightedPrefillQueue;

        protected IRoutingPolicy Inner => inner;

        public int ChoosePrefill(RequestState request, IClusterView view)
        {
            bool cached = Load(request, view);
            int proxy = router.ChoosePrefill(new RequestState(request.Request));
            int simulation = inner.ChoosePrefill(request, view);
            PrefillDecisions++;
            DecisionsWithCachedPrefix += cached ? 1 : 0;
            if (proxy != simulation)
            {
                Mismatches.Add($"request {request.Request.Id} prefill: simulation {simulation}, proxy {proxy}");
            }

            return simulation;
        }

        public int ChooseDecode(RequestState request, IClusterView view)
        {
            Load(request, view);
            int proxy = router.ChooseDecode(new RequestState(request.Request));
            int simulation = inner.ChooseDecode(request, view);
            DecodeDecisions++;
            if (proxy != simulation)
            {
                Mismatches.Add($"request {request.Request.Id} decode: simulation {simulation}, proxy {proxy}");
            }

            return simulation;
        }

        /// <summary>The simulation's state into the proxy's view; true when some instance holds part of the prompt.</summary>
        private bool Load(RequestState request, IClusterView view)
        {
            bool any = false;
            var blocks = request.Request.Blocks;
            for (int p = 0; p < view.PrefillInstances; p++)
            {
                var load = live.Prefill[p];
                load.QueuedTokens = view.PrefillQueuedTokens(p);
                load.Requests = view.PrefillRequests(p);
                int depth = view.MatchedBlocks(p, blocks);
                load.Cache = new PrefixCache(live.PrefixCacheBlocks);
                load.Cache.Insert(blocks[..depth]);
                any |= depth > 0;
            }

            for (int d = 0; d < view.DecodeInstances; d++)
            {
                live.Decode[d].Sequences = view.DecodeSequences(d);
                live.Decode[d].ReservedTokens = view.DecodeReservedTokens(d);
            }

            return any;
        }
    }

    /// <summary>The same, passing a script's admission and queue-order hooks through so the simulation runs as unwrapped.</summary>
    private sealed class MirroringScriptPolicy(IRoutingPolicy inner, ProxyRouter router, LiveClusterView live) : MirroringPolicy(inner, router, live), ISchedulingHooks
    {
        public bool Admit(RequestState request, ISchedulingState state) => ((ISchedulingHooks)Inner).Admit(request, state);

        public void Prioritize(int prefill, IReadOnlyList<RequestState> waiting, ISchedulingState state, Span<double> priorities) =>
            ((ISchedulingHooks)Inner).Prioritize(prefill, waiting, state, priorities);
    }
}
