using MoePlan.Core.Compilation;
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
