using MoePlan.Core.Search;
using MoePlan.Core.Text;
using MoePlan.Serving.Proxy;
using MoePlan.Serving.Search;
using MoePlan.Serving.Simulation;
using MoePlan.Serving.Tests.Simulation;

namespace MoePlan.Serving.Tests.Search;

/// <summary>Confirming a search winner by simulation: the figures come from the serving simulation of the winner.</summary>
public sealed class SimulatedConfirmationTests
{
    /// <summary>The tiny plan names no files (synthetic loads, synthetic workload): nothing to read.</summary>
    private sealed class NoFiles : ISourceResolver
    {
        public string Resolve(string fromFile, string path) => path;

        public bool TryRead(string resolvedPath, out string text, out string error)
        {
            (text, error) = ("", "no files in this test");
            return false;
        }
    }

    private static ReplacedCandidate TinyWinner(string? policy = null)
    {
        var compiled = SimulationFixtures.Compile("qwen1.5-moe-tiny.moe");
        var vary = policy is null ? [] : new[] { SearchSpace.ParseVary("proxy.policy=" + policy, out _)! };
        var space = SearchSpace.Create(compiled.Plan!, vary, null, out var error) ?? throw new InvalidOperationException(error);
        var candidate = DesignSpaceSearch.Evaluate(space, space.Single(), 0, compiled.Cost!.Options)!;
        return WinnerReplacement.Replace(candidate, new NoFiles(), compiled.Cost.Options);
    }

    /// <summary>
    /// The tiny plan: 200 requests at a constant 4/s, 32 output tokens each, on 8 ranks (2 pools x 2 NPUs x 2 dies).
    /// The offered load is far below capacity, so (hand derivation):
    /// - the analytic throughput is the offered one: 4 requests/s x 32 tokens / 8 ranks = 16 tokens/s per rank;
    /// - the simulated one is the output produced over the arrival window (199 gaps of 0.25 s = 49.75 s): with a
    ///   latency L under 1 s at most 4 earlier requests are unfinished at the last arrival, and the last one has
    ///   produced nothing yet, so between 195 x 32 and 199 x 32 tokens over 49.75 s and 8 ranks, within 2% of 16;
    /// - the analytic TTFT and TPOT assume full batches at a busy instance (1.5 prefill steps of 4096 tokens per
    ///   device; decode steps of 16 sequences per device), while the simulated requests meet near-empty instances,
    ///   so the simulated means are lower.
    /// </summary>
    [Fact]
    public void Figures_come_from_the_simulation_and_point_the_expected_way_on_an_unloaded_plan()
    {
        var winner = TinyWinner();
        var confirmation = SimulatedConfirmation.Run(winner, SimulationFixtures.PathOf("plans"), 200, seed: null);
        Assert.Null(confirmation.Skipped);
        var m = confirmation.Metrics!;
        Assert.Equal(200, m.Completed);
        Assert.Equal(8, winner.Replaced.Ranks);

        // The same simulation run independently: same plan, placement imbalances, policy and arrivals.
        var plan = winner.Replaced.Plan;
        var arrivals = ServingRun.Arrivals(plan, SimulationFixtures.PathOf("plans"), null, 200, null, []).ToList();
        var independent = ServingMetrics.From(ServingRun.Simulate(plan, winner.Cost, RoutingPolicies.Create("omni"), arrivals));
        Assert.Equal(independent.TtftMilliseconds.Mean, confirmation.TtftMilliseconds.Simulated);
        Assert.Equal(independent.TpotMilliseconds.Mean, confirmation.TpotMilliseconds.Simulated);
        // Simulated throughput: the output over the arrival window (without the drain after the last arrival).
        Assert.Equal(independent.OutputTokensPerSecondWhileArriving / 8, confirmation.OutputTokensPerSecondPerRank.Simulated, 9);

        Assert.Equal(4.0 * 32 / 8, confirmation.OutputTokensPerSecondPerRank.Analytic, 6);
        Assert.InRange(confirmation.OutputTokensPerSecondPerRank.Simulated, 195.0 * 32 / 49.75 / 8, 199.0 * 32 / 49.75 / 8);
        Assert.True(confirmation.OutputTokensPerSecondPerRank.Disagreement < 0.02);
        Assert.Equal(winner.Replaced.TtftMilliseconds, confirmation.TtftMilliseconds.Analytic);
        Assert.True(confirmation.TtftMilliseconds.Simulated < confirmation.TtftMilliseconds.Analytic);
        Assert.True(confirmation.TpotMilliseconds.Simulated < confirmation.TpotMilliseconds.Analytic);

        // Disagreement is |simulated - analytic| / analytic, and flagged above the threshold.
        var ttft = confirmation.TtftMilliseconds;
        Assert.Equal(Math.Abs(ttft.Simulated - ttft.Analytic) / ttft.Analytic, ttft.Disagreement, 12);
        Assert.Equal(ttft.Disagreement > 0.25, confirmation.Disagreements(0.25).Contains("TTFT"));
        Assert.DoesNotContain("throughput", confirmation.Disagreements(0.25));

        // No SLOs in the tiny plan: every completed request is good.
        Assert.Equal(1.0, confirmation.SloAttainment);
        Assert.True(confirmation.SimulatedMeetsSlos);
    }

    [Fact]
    public void The_same_winner_simulates_the_same_twice_and_the_policy_is_the_winners()
    {
        var a = SimulatedConfirmation.Run(TinyWinner("round-robin"), SimulationFixtures.PathOf("plans"), 100, seed: null);
        var b = SimulatedConfirmation.Run(TinyWinner("round-robin"), SimulationFixtures.PathOf("plans"), 100, seed: null);
        Assert.Equal("round-robin", a.Metrics!.Policy);
        Assert.Equal(a.Metrics.TtftMilliseconds, b.Metrics!.TtftMilliseconds);
        Assert.Equal(a.Metrics.TpotMilliseconds, b.Metrics.TpotMilliseconds);
        Assert.Equal(a.OutputTokensPerSecondPerRank, b.OutputTokensPerSecondPerRank);
    }
}
