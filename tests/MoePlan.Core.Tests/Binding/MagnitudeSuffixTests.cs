using MoePlan.Core.Compilation;
using MoePlan.Tests.Support;
using Xunit;

namespace MoePlan.Core.Tests.Binding;

/// <summary>`8k` where a token count goes: not a unit, so MP2015 says the whole number and offers it as the fix.</summary>
public sealed class MagnitudeSuffixTests
{
    private const string Tiny = "plans/qwen1.5-moe-tiny.moe";

    [Theory]
    [InlineData("8k", "8192", "8 x 1024")] // 8 x 1024, the shorthand of context lengths
    [InlineData("4K", "4096", "4 x 1024")]
    [InlineData("0.5k", "512", "0.5 x 1024")]
    [InlineData("1M", "1048576", "1 x 1048576")]
    public void A_magnitude_suffix_suggests_the_whole_number_and_the_fix_compiles(string written, string expected, string product)
    {
        var text = File.ReadAllText(RepositoryPaths.PathOf("plans", "qwen1.5-moe-tiny.moe")).Replace("context 2048", $"context {written}", StringComparison.Ordinal);
        var result = PlanCompiler.CompileText(Tiny, text, MemorySourceResolver.FromRepository(Tiny), throughVerification: true);
        var diagnostic = Assert.Single(result.Diagnostics);
        Assert.Equal("MP2015", diagnostic.Code);
        Assert.Contains($"did you mean `{expected}` ({product})?", diagnostic.Message, StringComparison.Ordinal);

        var edit = Assert.Single(diagnostic.Fix!.Edits);
        var fixedText = text[..edit.Span.Start] + edit.NewText + text[edit.Span.End..];
        Assert.Contains($"context {expected}", fixedText, StringComparison.Ordinal);
        var fixedResult = PlanCompiler.CompileText(Tiny, fixedText, MemorySourceResolver.FromRepository(Tiny), throughVerification: true);
        Assert.DoesNotContain(fixedResult.Diagnostics, d => d.Code == "MP2015");
    }

    [Fact]
    public void Another_unknown_unit_keeps_its_did_you_mean()
    {
        var text = File.ReadAllText(RepositoryPaths.PathOf("plans", "qwen1.5-moe-tiny.moe")).Replace("arrivals constant 4/s", "arrivals constant 4/sec", StringComparison.Ordinal);
        var diagnostic = Assert.Single(PlanCompiler.CompileText(Tiny, text, MemorySourceResolver.FromRepository(Tiny), throughVerification: true).Diagnostics);
        Assert.Equal("unknown unit `/sec`; did you mean `/s`?", diagnostic.Message);
    }
}
