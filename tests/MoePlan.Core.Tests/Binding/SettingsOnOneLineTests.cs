using MoePlan.Core.Compilation;
using MoePlan.Tests.Support;
using Xunit;

namespace MoePlan.Core.Tests.Binding;

/// <summary>A misspelt block setting written on the line of another setting is reported as itself, not as the other setting taking a block.</summary>
public sealed class SettingsOnOneLineTests
{
    private const string Tiny = "plans/qwen1.5-moe-tiny.moe";

    [Fact]
    public void A_misspelt_block_after_a_setting_is_an_unknown_setting_and_the_fix_puts_it_on_its_own_line()
    {
        var original = File.ReadAllText(RepositoryPaths.PathOf("plans", "qwen1.5-moe-tiny.moe"));
        var text = Rewrite(original);
        var result = PlanCompiler.CompileText(Tiny, text, MemorySourceResolver.FromRepository(Tiny), throughVerification: true);

        // Before: "`instances` expects a whole number" and "`instances` does not take a block", about a setting written right.
        Assert.DoesNotContain(result.Diagnostics, d => d.Code is "MP2006" or "MP2017");
        var unknown = Assert.Single(result.Diagnostics, d => d.Code == "MP2001");
        Assert.Equal("unknown setting `paralel` in `prefill`; did you mean `parallel`?", unknown.Message);
        Assert.Equal("paralel", text.Substring(unknown.Span!.Value.Start, unknown.Span.Value.Length));

        // The fix puts `parallel` on a line of its own, indented as the setting before it: the plan is then the original.
        var edit = Assert.Single(unknown.Fix!.Edits);
        var fixedText = text[..edit.Span.Start] + edit.NewText + text[edit.Span.End..];
        Assert.Equal(original, fixedText);
    }

    /// <summary>The tiny plan with its prefill `parallel` misspelt and moved onto the `instances` line.</summary>
    private static string Rewrite(string original)
    {
        var start = original.IndexOf("  prefill {", StringComparison.Ordinal);
        var instances = original.IndexOf("instances 1", start, StringComparison.Ordinal);
        var parallel = original.IndexOf("parallel", instances, StringComparison.Ordinal);
        var gap = original[(instances + "instances 1".Length)..parallel];
        Assert.Matches(@"^\n +$", gap);
        return original[..(instances + "instances 1".Length)] + " paralel" + original[(parallel + "parallel".Length)..];
    }
}
