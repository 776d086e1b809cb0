using MoePlan.Core.Compilation;
using MoePlan.Tests.Support;
using Xunit;

namespace MoePlan.Core.Tests.Docs;

public sealed class DslDocExampleTests
{
    [Fact]
    public void The_lead_example_of_the_language_guide_checks_clean()
    {
        // The first code block of docs/dsl.md, read as a plan beside the sample plans (its import and load paths are theirs).
        var doc = File.ReadAllText(RepositoryPaths.PathOf("docs", "dsl.md"));
        var start = doc.IndexOf("```\n", StringComparison.Ordinal) + 4;
        var example = doc[start..doc.IndexOf("```", start, StringComparison.Ordinal)];
        Assert.Contains("deployment \"deepseek-v3-h800\"", example, StringComparison.Ordinal);

        const string Path = "plans/dsl-guide-example.moe";
        var result = PlanCompiler.CompileText(Path, example, MemorySourceResolver.FromRepository("plans/common/slo.moe"));
        Assert.True(result.Plan is not null, string.Join("\n", result.Diagnostics));
        Assert.DoesNotContain(result.Diagnostics, d => d.IsError || d.Severity == Diagnostics.DiagnosticSeverity.Warning);
    }
}
