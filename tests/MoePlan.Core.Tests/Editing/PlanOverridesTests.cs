using MoePlan.Core.Compilation;
using MoePlan.Core.Editing;
using MoePlan.Tests.Support;
using Xunit;

namespace MoePlan.Core.Tests.Editing;

/// <summary><c>--set PATH=VALUE</c>: settings rewritten in place, everything else kept; bad paths refused by name.</summary>
public sealed class PlanOverridesTests
{
    private const string Tiny = "plans/qwen1.5-moe-tiny.moe";

    private static string TinyText() => File.ReadAllText(RepositoryPaths.PathOf("plans", "qwen1.5-moe-tiny.moe"));

    private static string Apply(params string[] sets)
    {
        var (overrides, malformed) = PlanOverrides.Parse(sets);
        Assert.Empty(malformed);
        var (text, diagnostics) = PlanOverrides.Apply(TinyText(), Tiny, overrides);
        Assert.Empty(diagnostics);
        return text!;
    }

    [Fact]
    public void A_nested_path_rewrites_that_setting_only()
    {
        var text = Apply("decode.parallel.ep=2", "cluster.nodes=1", "workload.arrivals=poisson 8/s");
        // The tiny plan's lines, edited by hand: only the three values differ.
        var expected = TinyText()
            .Replace("decode {\n    instances 1\n    parallel { dp 4  ep 4 }", "decode {\n    instances 1\n    parallel { dp 4  ep 2 }", StringComparison.Ordinal)
            .Replace("arrivals constant 4/s", "arrivals poisson 8/s", StringComparison.Ordinal);
        Assert.Equal(expected, text);
        var plan = PlanCompiler.CompileText(Tiny, text, MemorySourceResolver.FromRepository(Tiny), throughVerification: true).Plan!;
        Assert.Equal(2, plan.Decode.Parallel.ExpertParallel.Value);
        Assert.Equal(4, plan.Prefill.Parallel.ExpertParallel.Value);
        Assert.Equal(8, plan.Workload.Arrivals!.RatePerSecond);
    }

    [Fact]
    public void Sweep_names_mean_what_they_mean_in_a_sweep()
    {
        // decode.ep is decode { parallel { ep } }; a plain max_batch is per device, as a sweep's values are.
        var text = Apply("decode.ep=2", "decode.max_batch=8");
        Assert.Contains("parallel { dp 4  ep 2 }", text, StringComparison.Ordinal);
        Assert.Contains("max_batch 8 per device", text, StringComparison.Ordinal);
        var plan = PlanCompiler.CompileText(Tiny, text, MemorySourceResolver.FromRepository(Tiny), throughVerification: true).Plan!;
        Assert.Equal(8, plan.Decode.MaxBatchPerDevice!.Value.Value);
    }

    [Fact]
    public void A_setting_the_block_lacks_is_added_to_it()
    {
        var text = Apply("decode.max_batch=8", "prefill.microbatch_overlap=on");
        var plan = PlanCompiler.CompileText(Tiny, text, MemorySourceResolver.FromRepository(Tiny), throughVerification: true);
        Assert.False(plan.HasErrors, string.Join("\n", plan.Diagnostics));
        Assert.Contains("microbatch_overlap on", text, StringComparison.Ordinal);
    }

    [Fact]
    public void The_same_setting_twice_takes_the_last_and_lines_keep_their_numbers()
    {
        var text = Apply("decode.ep=2", "decode.parallel.ep=1", "prefill.microbatch_overlap=on");
        Assert.Contains("parallel { dp 4  ep 1 }", text, StringComparison.Ordinal);
        Assert.Equal(TinyText().Split('\n').Length, text.Split('\n').Length);
        var plan = PlanCompiler.CompileText(Tiny, text, MemorySourceResolver.FromRepository(Tiny), throughVerification: true).Plan!;
        Assert.Equal(1, plan.Decode.Parallel.ExpertParallel.Value);
    }

    [Theory]
    [InlineData("decode.paralel.ep=2", "`decode` has no setting `paralel`; did you mean `parallel`?")]
    [InlineData("decod.max_batch=2", "the deployment has no setting `decod`; did you mean `decode`?")]
    [InlineData("decode.max_batch.x=2", "has no `max_batch { }` block")]
    public void An_unknown_path_is_MP5601_naming_the_missing_part(string set, string expected)
    {
        var (overrides, _) = PlanOverrides.Parse([set]);
        var (text, diagnostics) = PlanOverrides.Apply(TinyText(), Tiny, overrides);
        Assert.Null(text);
        var diagnostic = Assert.Single(diagnostics);
        Assert.Equal("MP5601", diagnostic.Code);
        Assert.Contains(expected, diagnostic.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("decode.max_batch")]
    [InlineData("=3")]
    [InlineData("decode.max_batch=")]
    [InlineData("decode.max_batch=8 }\n injected { }")]
    [InlineData("decode.max_batch=8 # comment")]
    public void A_malformed_override_is_MP5600(string set)
    {
        var (overrides, malformed) = PlanOverrides.Parse([set]);
        Assert.Empty(overrides);
        Assert.Equal("MP5600", Assert.Single(malformed).Code);
    }
}
