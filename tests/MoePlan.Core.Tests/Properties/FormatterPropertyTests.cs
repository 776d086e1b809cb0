using System.Text.RegularExpressions;
using CsCheck;
using MoePlan.Core.Compilation;
using MoePlan.Core.Formatting;
using MoePlan.Core.Parsing;
using MoePlan.Core.Tests.Formatting;
using MoePlan.Tests.Support;
using Xunit;

namespace MoePlan.Core.Tests.Properties;

/// <summary>Random plans from the grammar (<see cref="PlanGenerator"/>) through the formatter.</summary>
public sealed class FormatterPropertyTests
{
    private const int Iterations = 300;

    private static readonly MemorySourceResolver Resolver = new(new Dictionary<string, string>(StringComparer.Ordinal)
    {
        ["common/slo.moe"] = "let interactive_ttft = 2s\nlet interactive_tpot = 50ms\n",
    });

    private static string Show(GeneratedPlan plan) => "\n" + plan.Render();

    [Fact]
    public void Generated_plans_parse_format_to_the_same_tree_and_comments_and_format_idempotently()
    {
        PlanGenerator.Plan.Sample(plan =>
        {
            var text = plan.Render();
            var original = MoeParser.Parse(text, "plan.moe");
            Assert.True(original.Succeeded, "the generator made a plan that does not parse: " + string.Join("\n", original.Diagnostics));

            var formatted = PlanFormatter.Format(text, "plan.moe").Text;
            Assert.NotNull(formatted);
            var reparsed = MoeParser.Parse(formatted, "plan.moe").Syntax;
            Assert.NotNull(reparsed);
            Assert.Equal(SyntaxShape.Of(original.Syntax!), SyntaxShape.Of(reparsed));
            Assert.Equal(SyntaxShape.Comments(original.Syntax!), SyntaxShape.Comments(reparsed));
            Assert.Equal(formatted, PlanFormatter.Format(formatted, "plan.moe").Text);
        }, iter: Iterations, print: Show);
    }

    [Fact]
    public void Formatted_plans_are_canonical_text()
    {
        PlanGenerator.Plan.Sample(plan =>
        {
            var text = plan.Render();
            var formatted = PlanFormatter.Format(text, "plan.moe").Text!;
            var lineBreak = plan.Crlf ? "\r\n" : "\n";
            Assert.EndsWith(lineBreak, formatted, StringComparison.Ordinal);
            Assert.DoesNotContain('\t', formatted);
            Assert.DoesNotContain(lineBreak + lineBreak + lineBreak, formatted, StringComparison.Ordinal);
            Assert.Equal(plan.Crlf, formatted.Contains('\r', StringComparison.Ordinal));
            var lines = formatted[..^lineBreak.Length].Split(lineBreak);
            Assert.NotEqual("", lines[0]);
            foreach (var line in lines)
            {
                Assert.Equal(line.TrimEnd(), line);
                var indent = line.Length - line.TrimStart(' ').Length;
                Assert.Equal(0, indent % 2);
            }
        }, iter: Iterations, print: Show);
    }

    /// <summary>Formatting never changes what a plan means: compiling before and after gives the same diagnostics (most
    /// generated plans bind with errors, which makes the diagnostics a detailed account of what the binder saw).</summary>
    [Fact]
    public void Formatting_keeps_the_compiled_meaning()
    {
        PlanGenerator.Plan.Sample(plan =>
        {
            var text = plan.Render();
            var formatted = PlanFormatter.Format(text, "plan.moe").Text!;
            // Messages may name other places in the file ("defined at plan.moe(4,6)"): lines move, so drop positions.
            static string Meaning(CompilationResult r) =>
                string.Join("\n", r.Diagnostics.Select(d => $"{d.Code}: {Regex.Replace(d.Message, @"\(\d+,\d+\)", "(line,col)")}"));
            Assert.Equal(
                Meaning(PlanCompiler.CompileText("plan.moe", text, Resolver)),
                Meaning(PlanCompiler.CompileText("plan.moe", formatted, Resolver)));
        }, iter: 100, print: Show);
    }
}
