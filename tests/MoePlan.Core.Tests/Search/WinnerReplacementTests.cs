using MoePlan.Core.Compilation;
using MoePlan.Core.Search;
using MoePlan.Tests.Support;
using Xunit;

namespace MoePlan.Core.Tests.Search;

/// <summary>The top candidates re-placed at their own EP and redundant experts; winners of a sweep plan written back.</summary>
public sealed class WinnerReplacementTests
{
    private const string SamplePath = "plans/search/deepseek-v3-64xh800.moe";

    private static readonly Lazy<CompilationResult> Sample = new(() =>
    {
        var result = PlanCompiler.Compile(SamplePath, MemorySourceResolver.FromRepository(SamplePath));
        Assert.NotNull(result.Plan);
        return result;
    });

    private static SearchSpace Space(params string[] vary) =>
        SearchSpace.Create(Sample.Value.Plan!, [.. vary.Select(v => SearchSpace.ParseVary(v, out var e) ?? throw new InvalidOperationException(e))], 64, out var error)
        ?? throw new InvalidOperationException(error);

    private static SearchCandidate Only(SearchSpace space) =>
        DesignSpaceSearch.Evaluate(space, space.Single(), 0, Sample.Value.Cost!.Options) ?? throw new InvalidOperationException("invalid candidate");

    /// <summary>
    /// One shape, decode EP 32 on 32 GPUs: 256 experts are 8 slots per GPU; 32 redundant experts add a ninth slot per
    /// GPU, which the placement fills with replicas of the hottest experts, splitting their load. The busiest
    /// GPU's load cannot grow from that, so the imbalance (max / mean load) is not worse, and with measured skewed
    /// loads (SGLang's DeepSeek-V3 decode statistics) it is better.
    /// </summary>
    [Fact]
    public void More_redundant_experts_do_not_worsen_a_winners_own_imbalance()
    {
        var shape = new[] { "prefill.instances=1", "prefill.dp=32", "prefill.ep=dp", "decode.dp=32", "decode.ep=dp", "decode.max_batch=64" };
        var resolver = MemorySourceResolver.FromRepository(SamplePath);
        var options = Sample.Value.Cost!.Options;
        var without = WinnerReplacement.Replace(Only(Space([.. shape, "placement.redundant_experts=0"])), resolver, options);
        var with = WinnerReplacement.Replace(Only(Space([.. shape, "placement.redundant_experts=32"])), resolver, options);
        Assert.Empty(without.Diagnostics.Where(d => d.IsError));
        Assert.True(with.DecodeImbalance <= without.DecodeImbalance, $"{with.DecodeImbalance} vs {without.DecodeImbalance}");
        Assert.True(with.PrefillImbalance <= without.PrefillImbalance, $"{with.PrefillImbalance} vs {without.PrefillImbalance}");
        Assert.True(with.DecodeImbalance < without.DecodeImbalance, "measured loads are skewed: replicas must help");

        // TPOT need not follow: each rank then holds 9 experts instead of 8, reads more weights and runs smaller
        // per-expert GEMMs, which at 64 sequences per GPU can outweigh the lower imbalance.
    }

    /// <summary>The re-placed figures are what `moeplan cost` computes for the written winner, compiled from its text.</summary>
    [Fact]
    public void Replaced_figures_are_those_of_the_written_plan()
    {
        var compiled = Sample.Value;
        var space = Space("decode.dp=16,32", "decode.ep=dp", "decode.max_batch=32,64", "prefill.dp=16,32", "prefill.ep=dp", "prefill.instances=1",
            "placement.redundant_experts=0,32", "proxy.mode=sequential,parallel", "proxy.policy=omni,cache-aware");
        var result = DesignSpaceSearch.Run(space, compiled.Cost!.Options, 6);
        var resolver = MemorySourceResolver.FromRepository(SamplePath);
        var ranked = WinnerReplacement.ReplaceAndRank(result.Top, resolver, compiled.Cost.Options);
        Assert.Equal(result.Top.Count, ranked.Count);
        Assert.NotEmpty(ranked);
        var baseText = File.ReadAllText(RepositoryPaths.PathOf(SamplePath.Split('/')));
        const string winnerPath = "plans/search/winner.moe";
        foreach (var r in ranked)
        {
            var text = PlanTextWriter.Write(baseText, compiled.Syntax!, CandidateSettings.Of(compiled.Plan!), r.Replaced.Settings, space.Cluster.Nodes.Value);
            Assert.DoesNotContain("sweep {", text, StringComparison.Ordinal);
            Assert.Contains("# sweep block left out", text, StringComparison.Ordinal);
            var again = PlanCompiler.Compile(winnerPath, new MemorySourceResolver(new Dictionary<string, string> { [winnerPath] = text }, readRepository: true));
            Assert.True(again.Plan is not null, string.Join("\n", again.Diagnostics));
            Assert.Null(again.Plan.Sweep);
            Assert.Equal(r.Replaced.Settings, CandidateSettings.Of(again.Plan));
            Assert.Equal(r.DecodeImbalance, again.Cost!.DecodeImbalance, 12);
            Assert.Equal(r.PrefillImbalance, again.Cost.PrefillImbalance, 12);
            Assert.Equal(r.Replaced.TpotMilliseconds, again.Cost.Report!.Decode.TpotMilliseconds, 9);
            Assert.Equal(r.Replaced.TtftMilliseconds, again.Cost.Report.Prefill.TtftMilliseconds, 9);
        }

        // Ranked on the re-placed figures: meeting the SLOs first, then output tokens/s per rank.
        for (var i = 1; i < ranked.Count; i++)
        {
            var (a, b) = (ranked[i - 1].Replaced, ranked[i].Replaced);
            Assert.True(a.MeetsSlos && !b.MeetsSlos || (a.MeetsSlos == b.MeetsSlos && a.OutputTokensPerSecondPerRank >= b.OutputTokensPerSecondPerRank));
        }
    }

    /// <summary>The analytic model sees the proxy mode (sequential mode exposes the KV transfer in TTFT) but not the policy.</summary>
    [Fact]
    public void Proxy_mode_moves_the_analytic_ttft_and_the_policy_does_not()
    {
        var shape = new[] { "prefill.instances=1", "prefill.dp=32", "prefill.ep=dp", "decode.dp=32", "decode.ep=dp", "decode.max_batch=64" };
        var space = Space([.. shape, "proxy.mode=sequential,parallel", "proxy.policy=omni,round-robin"]);
        var c = space.Select((s, i) => DesignSpaceSearch.Evaluate(space, s, i, Sample.Value.Cost!.Options)!).ToList();
        // Order: mode outer, policy inner: (seq, omni), (seq, rr), (par, omni), (par, rr).
        Assert.Equal(c[0].TtftMilliseconds, c[1].TtftMilliseconds);
        Assert.Equal(c[2].TtftMilliseconds, c[3].TtftMilliseconds);
        Assert.Equal(c[0].Report.Prefill.KvTransferMilliseconds, c[0].TtftMilliseconds - c[2].TtftMilliseconds, 9);
        Assert.True(c[0].Report.Prefill.KvTransferMilliseconds > 0);
        Assert.Equal("round-robin", c[1].Plan.Proxy.Policy.Value);
        Assert.Equal(c[0].OutputTokensPerSecondPerRank, c[3].OutputTokensPerSecondPerRank);
    }
}
