using MoePlan.Core.Compilation;
using MoePlan.Core.Plan;
using MoePlan.Core.Search;
using MoePlan.Tests.Support;
using Xunit;

namespace MoePlan.Core.Tests.Search;

public sealed class PlanTextWriterTests
{
    private const string R1Path = "plans/deepseek-r1-cloudmatrix384.moe";

    [Fact]
    public void Every_varied_setting_is_rewritten_or_inserted_and_binds_back_to_the_same_values()
    {
        var compiled = PlanCompiler.Compile(R1Path, MemorySourceResolver.FromRepository(R1Path), throughVerification: true);
        Assert.NotNull(compiled.Plan);
        var baseSettings = CandidateSettings.Of(compiled.Plan);
        // The plan writes no tp (inserted into the parallel block), mtp as a block (becomes `mtp off`), overlap on.
        Assert.Equal(1, baseSettings.DecodeTensorParallel);
        Assert.True(baseSettings.DecodeMtp);
        var wanted = baseSettings with
        {
            PrefillInstances = 5,
            PrefillDataParallel = 16,
            PrefillTensorParallel = 2,
            PrefillExpertParallel = 32,
            PrefillMaxBatchTokens = 8192,
            PrefillOverlap = false,
            DecodeInstances = 2,
            DecodeDataParallel = 40,
            DecodeTensorParallel = 2,
            DecodeExpertParallel = 80,
            DecodeMaxBatch = 48,
            DecodeMtp = false,
            DecodeOverlap = false,
            RedundantExperts = 64,
            ProxyParallel = !baseSettings.ProxyParallel,
            ProxyPolicy = RoutingPolicyCatalog.BuiltNames.IndexOf("kv-cost"),
        };

        var text = PlanTextWriter.Write(File.ReadAllText(RepositoryPaths.PathOf("plans", "deepseek-r1-cloudmatrix384.moe")), compiled.Syntax!, baseSettings, wanted, nodes: 40);
        Assert.Contains("mtp off", text, StringComparison.Ordinal);
        Assert.Contains("max_batch 48 per device", text, StringComparison.Ordinal);
        Assert.Contains("# DeepSeek-R1, INT8", text, StringComparison.Ordinal);

        const string path = "plans/r1-rewritten.moe";
        var again = PlanCompiler.Compile(path, new MemorySourceResolver(new Dictionary<string, string> { [path] = text }, readRepository: true), throughVerification: true);
        Assert.True(again.Plan is not null, text + "\n" + string.Join("\n", again.Diagnostics));
        Assert.Equal(wanted, CandidateSettings.Of(again.Plan));
        Assert.Equal(40, again.Plan.Cluster.Nodes.Value);
    }

    /// <summary>The tiny plan has no proxy block: a changed mode or policy inserts one with just those settings.</summary>
    [Theory]
    [InlineData(true, -1, "proxy { mode parallel }")]
    [InlineData(false, 3, "proxy { policy cache-aware }")]
    [InlineData(true, 1, "proxy { mode parallel  policy round-robin }")]
    public void A_proxy_block_is_inserted_when_the_plan_has_none(bool parallel, int policy, string expected)
    {
        const string path = "plans/qwen1.5-moe-tiny.moe";
        var compiled = PlanCompiler.Compile(path, MemorySourceResolver.FromRepository(path));
        var baseSettings = CandidateSettings.Of(compiled.Plan!);
        // vllm defaults to sequential mode and the omni policy (index 0 of the binder's policies).
        Assert.False(baseSettings.ProxyParallel);
        Assert.Equal(0, baseSettings.ProxyPolicy);
        var wanted = baseSettings with { ProxyParallel = parallel, ProxyPolicy = policy < 0 ? baseSettings.ProxyPolicy : policy };
        var text = PlanTextWriter.Write(File.ReadAllText(RepositoryPaths.PathOf("plans", "qwen1.5-moe-tiny.moe")), compiled.Syntax!, baseSettings, wanted);
        Assert.Contains(expected, text, StringComparison.Ordinal);
        const string again = "plans/tiny-rewritten.moe";
        var rebound = PlanCompiler.Compile(again, new MemorySourceResolver(new Dictionary<string, string> { [again] = text }, readRepository: true));
        Assert.True(rebound.Plan is not null, text);
        Assert.Equal(wanted, CandidateSettings.Of(rebound.Plan));
    }

    [Fact]
    public void Paths_are_relocated_for_a_plan_written_elsewhere()
    {
        const string path = "plans/deepseek-v3-h800.moe";
        var compiled = PlanCompiler.Compile(path, MemorySourceResolver.FromRepository(path), throughVerification: true);
        var settings = CandidateSettings.Of(compiled.Plan!);
        var text = PlanTextWriter.Write(File.ReadAllText(RepositoryPaths.PathOf("plans", "deepseek-v3-h800.moe")), compiled.Syntax!, settings, settings,
            relocate: p => "../plans/" + p);
        Assert.Contains("import \"../plans/common/slo.moe\"", text, StringComparison.Ordinal);
        Assert.Contains("loads \"../plans/data/deepseek-v3-sglang-decode_in2000out100.json\"", text, StringComparison.Ordinal);

        // Written from out/ the plan binds with the same imports and loads.
        const string moved = "out/v3.moe";
        var again = PlanCompiler.Compile(moved, new MemorySourceResolver(new Dictionary<string, string> { [moved] = text }, readRepository: true));
        Assert.True(again.Plan is not null, string.Join("\n", again.Diagnostics));
        Assert.Equal(settings, CandidateSettings.Of(again.Plan));
    }
}
