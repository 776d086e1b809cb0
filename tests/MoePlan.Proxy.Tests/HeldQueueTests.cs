using MoePlan.Core.Workloads;
using MoePlan.Proxy.Routing;
using MoePlan.Scheduling;
using MoePlan.Scripting;
using MoePlan.Serving.Proxy;
using MoePlan.Serving.Simulation;
using MoePlan.Tests.Support;

namespace MoePlan.Proxy.Tests;

/// <summary>
/// Issue #16: the live proxy releases the requests it holds in the simulation's order. The same held set goes
/// through both: one long request keeps the single prefill instance busy while eight more arrive and are held (a
/// policy that holds until the instance is idle); when it finishes, the held ones are released in one pass. The
/// simulation runs it on its event clock; the live router gets the same requests with its clock set to the
/// simulation's stamps (each request's APC match, and the release). The order must be the simulation's, and the one
/// worked out by hand from the policy's rule.
/// </summary>
public sealed class HeldQueueTests
{
    /// <summary>Prompt tokens of the held requests (ids 1..8, arriving 1 ms apart): arrival order is not shortest first.</summary>
    private static readonly int[] HeldTokens = [1800, 300, 1500, 700, 1200, 900, 100, 1000];

    [Theory(Timeout = 120_000)]
    [InlineData(null)]
    [InlineData("shortest-prefill-first.csx")]
    public async Task The_proxy_releases_held_requests_in_the_simulations_order(string? script)
    {
        var plan = TestPlans.Plan(TestPlans.Tiny);
        var config = ServingConfig.FromPlan(plan);
        Assert.Equal((1, 1), (config.PrefillInstances, config.DecodeInstances));
        long block = 0;
        var arrivals = new List<ArrivingRequest> { Request(0, 0, 1900, ref block) };
        for (int i = 0; i < HeldTokens.Length; i++)
        {
            arrivals.Add(Request(i + 1, i + 1, HeldTokens[i], ref block));
        }

        using var simulatedScript = script is null ? null : Script(script);
        using var liveScript = script is null ? null : Script(script);
        var simulated = script is null ? new HoldUntilIdle() : new ScriptedHoldUntilIdle(simulatedScript!);
        var result = ServingRun.Simulate(config, plan, TestPlans.Tiny.Cost, [simulated], arrivals);
        Assert.Equal(9, result.CompletedCount);
        Assert.Equal(HeldTokens.Length, simulated.Released.Count);

        // The live router on the same requests, its clock at the simulation's times.
        double now = 0;
        var view = new LiveClusterView(config, 1, 1, () => now);
        var live = script is null ? new HoldUntilIdle() : new ScriptedHoldUntilIdle(liveScript!);
        var router = new ProxyRouter(live, view, maxHeld: 100);
        var first = new RequestState(arrivals[0]);
        now = simulated.Matched[0];
        Assert.Equal(0, await router.RoutePrefillAsync(first, CancellationToken.None));
        var held = new List<Task<int>>();
        foreach (var r in arrivals.Skip(1))
        {
            now = simulated.Matched[r.Id];
            held.Add(router.RoutePrefillAsync(new RequestState(r), CancellationToken.None));
        }

        Assert.All(held, t => Assert.False(t.IsCompleted));
        Assert.Equal(HeldTokens.Length, router.Held);
        Assert.Equal(HeldTokens.Sum(), view.Cluster.ProxyHeldTokens);
        now = simulated.ReleasedAt;
        router.PrefillFinished(first, succeeded: true);
        Assert.All(await Task.WhenAll(held), p => Assert.Equal(0, p));
        Assert.Equal(simulated.Matched, live.Matched);
        Assert.Equal(simulated.ReleasedAt, live.ReleasedAt);

        var expected = script is null ? OmniOrder(simulated) : ShortestFirst();
        Assert.NotEqual(Enumerable.Range(1, HeldTokens.Length).Select(i => (long)i), expected);
        Assert.Equal(expected, simulated.Released);
        Assert.Equal(expected, live.Released);
    }

    /// <summary>
    /// Omni's rule (its proxy's queue weight, docs/simulation.md): weight = 0.8 (maxTok - tok) / maxTok + 0.2 waited /
    /// max(maxWaited, 50 ms) over the held requests at the release, waits counted from each one's APC match; heaviest
    /// first, ties by id.
    /// </summary>
    private static List<long> OmniOrder(HoldUntilIdle run)
    {
        var ids = Enumerable.Range(1, HeldTokens.Length).Select(i => (long)i).ToList();
        double maxTokens = HeldTokens.Max();
        double maxWaited = ids.Max(id => run.ReleasedAt - run.Matched[id]);
        double Weight(long id) => (0.8 * (maxTokens - HeldTokens[id - 1]) / maxTokens) + (0.2 * (run.ReleasedAt - run.Matched[id]) / Math.Max(maxWaited, 50));
        return [.. ids.OrderByDescending(Weight).ThenBy(id => id)];
    }

    /// <summary>shortest-prefill-first.csx in the proxy's own queue: the fewest prompt tokens first (nothing is cached there).</summary>
    private static List<long> ShortestFirst() =>
        [.. Enumerable.Range(1, HeldTokens.Length).OrderBy(i => HeldTokens[i - 1]).Select(i => (long)i)];

    private static ArrivingRequest Request(long id, double at, int tokens, ref long block)
    {
        var blocks = new long[ArrivingRequest.BlocksFor(tokens)];
        for (int b = 0; b < blocks.Length; b++)
        {
            blocks[b] = block++;
        }

        return new ArrivingRequest(id, at, tokens, 8, blocks);
    }

    private static ScriptPolicy Script(string name)
    {
        var load = SchedulerScriptCompiler.Load(RepositoryPaths.PathOf("plans", "schedulers", name), Path.Combine(Path.GetTempPath(), "moeplan-proxy-tests-" + Environment.ProcessId));
        Assert.True(load.Script is not null, string.Join('\n', load.Diagnostics));
        return new ScriptPolicy(load.Script, ScriptBudgetOptions.Default, fallback: false);
    }

    /// <summary>
    /// Routes request 0 to the only prefill instance and holds every later one until the instance is idle (request 0
    /// prefilled); from then on it places every request, recording the order. Omni's queue weight orders the held ones.
    /// </summary>
    private class HoldUntilIdle : IRoutingPolicy
    {
        private bool _releasing;

        public List<long> Released { get; } = [];

        /// <summary>Each request's APC match stamp when it was first asked about.</summary>
        public Dictionary<long, double> Matched { get; } = [];

        public double ReleasedAt { get; private set; } = double.NaN;

        public string Name => "hold-until-idle";

        public bool WeightedPrefillQueue => true;

        public int ChoosePrefill(RequestState request, IClusterView view)
        {
            Matched.TryAdd(request.Request.Id, request.Stamp(RequestStage.ApcMatched));
            if (request.Request.Id == 0)
            {
                return 0;
            }

            if (!_releasing && view.PrefillRequests(0) == 0)
            {
                _releasing = true;
                ReleasedAt = ((ISchedulingState)view).Cluster.NowMilliseconds;
            }

            if (!_releasing)
            {
                return -1;
            }

            Released.Add(request.Request.Id);
            return 0;
        }

        public int ChooseDecode(RequestState request, IClusterView view) => view.DecodeHasRoom(0, request) ? 0 : -1;
    }

    /// <summary>The same, with a script's queue order (its <c>PrefillPriority</c>).</summary>
    private sealed class ScriptedHoldUntilIdle(ScriptPolicy script) : HoldUntilIdle, ISchedulingHooks
    {
        public bool Admit(RequestState request, ISchedulingState state) => true;

        public void Prioritize(int prefill, IReadOnlyList<RequestState> waiting, ISchedulingState state, Span<double> priorities) =>
            script.Prioritize(prefill, waiting, state, priorities);
    }
}
