using System.Text;
using MoePlan.Core.Compilation;
using MoePlan.Core.Emit;
using MoePlan.Core.Formatting;
using MoePlan.Core.Parsing;
using MoePlan.Tests.Support;
using Xunit;

namespace MoePlan.Core.Tests.Properties;

/// <summary>Very large or very deep inputs: compiled or refused with a diagnostic, in bounded time and memory, never a stack overflow.</summary>
public sealed class HugeInputTests
{
    private const string Tiny = "plans/qwen1.5-moe-tiny.moe";

    private static string TinyPlan() => File.ReadAllText(RepositoryPaths.PathOf("plans", "qwen1.5-moe-tiny.moe"));

    private static string Let(string expression) => $"let a = {expression}\n";

    /// <summary>Parses on a thread with a 1 MiB stack (Windows' default, smaller than Linux's), so the limit keeps a margin.</summary>
    private static ParseResult ParseOnSmallStack(string text)
    {
        ParseResult? result = null;
        var thread = new Thread(() => result = MoeParser.Parse(text, "deep.moe"), 1024 * 1024);
        thread.Start();
        Assert.True(thread.Join(TimeBound.PerCase), "parsing took too long");
        return result!;
    }

    private static void AssertTooDeep(string text)
    {
        var result = ParseOnSmallStack(text);
        Assert.False(result.Succeeded);
        var diagnostic = Assert.Single(result.Diagnostics);
        Assert.Equal("MP1006", diagnostic.Code);
        Assert.Contains($"more than {MoeParser.MaxExpressionDepth} levels", diagnostic.Message, StringComparison.Ordinal);
        Assert.False(PlanFormatter.Format(text, "deep.moe").Succeeded);
    }

    [Fact]
    public void Parentheses_at_the_depth_limit_parse_and_format()
    {
        var depth = MoeParser.MaxExpressionDepth;
        var text = Let(new string('(', depth) + "1" + new string(')', depth));
        Assert.True(ParseOnSmallStack(text).Succeeded);
        Assert.Equal(text, PlanFormatter.Format(text, "deep.moe").Text);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(100_000 - MoeParser.MaxExpressionDepth)]
    public void Parentheses_beyond_the_limit_are_MP1006(int beyond)
    {
        var depth = MoeParser.MaxExpressionDepth + beyond;
        AssertTooDeep(Let(new string('(', depth) + "1" + new string(')', depth)));
    }

    [Fact]
    public void Unclosed_parentheses_and_braces_are_MP1006_not_a_crash()
    {
        AssertTooDeep(Let(new string('(', 100_000)));
        AssertTooDeep("deployment \"x\" {" + string.Concat(Enumerable.Repeat("engine {", 100_000)));
        AssertTooDeep(Let(string.Concat(Enumerable.Repeat("-(", 100_000)) + "1"));
    }

    [Fact]
    public void Negated_parentheses_under_the_token_limit_but_twice_as_deep_are_MP1006()
    {
        // `-(-(-(...` counts one level per parenthesis in the token check, but the grammar nests two per pair:
        // 127 pairs reach the grammar at 254 levels; the tree check must still refuse them.
        var depth = MoeParser.MaxExpressionDepth - 1;
        AssertTooDeep(Let(string.Concat(Enumerable.Repeat("-(", depth)) + "1" + new string(')', depth)));
        AssertTooDeep(Let(string.Concat(Enumerable.Repeat("-(1+", depth)) + "1" + new string(')', depth)));

        // Each run of `-` is measured from the parentheses open at its start, so runs add up across levels:
        // `(` then 127 `-`, `(` then 126 `-`, ... nests thousands of levels while no token exceeds the limit.
        var staircase = new StringBuilder();
        for (var level = 1; level < depth; level++)
        {
            staircase.Append('(').Append('-', depth - level);
        }

        AssertTooDeep(Let(staircase.Append('1').Append(')', depth - 1).ToString()));
    }

    [Fact]
    public void Every_nesting_construct_at_the_limit_parses_on_a_small_stack()
    {
        var depth = MoeParser.MaxExpressionDepth;
        var sum = new StringBuilder();
        for (var level = 0; level < depth; level++)
        {
            sum.Append("2 * (1 + ");
        }

        Assert.Equal("MP1006", Assert.Single(ParseOnSmallStack(Let(sum.Append('1').Append(')', depth).ToString())).Diagnostics).Code);
        var blocks = "deployment \"x\" {" + string.Concat(Enumerable.Repeat("engine {", depth - 2)) + new string('}', depth - 1) + "\n";
        var parsed = ParseOnSmallStack(blocks);
        Assert.True(parsed.Succeeded, string.Join("\n", parsed.Diagnostics));
        var parenthesesInBlocks = "deployment \"x\" { engine { nodes " + new string('(', depth - 3) + "1" + new string(')', depth - 3) + " } }\n";
        Assert.True(ParseOnSmallStack(parenthesesInBlocks).Succeeded);
    }

    [Fact]
    public void Negations_beyond_the_limit_are_MP1006()
    {
        Assert.True(ParseOnSmallStack(Let(new string('-', MoeParser.MaxExpressionDepth) + "1")).Succeeded);
        AssertTooDeep(Let(new string('-', MoeParser.MaxExpressionDepth + 1) + "1"));
        AssertTooDeep(Let(new string('-', 100_000) + "1"));
    }

    [Fact]
    public void Chained_operators_beyond_the_limit_are_MP1006()
    {
        // 1 + 1 + ... parses in a loop but nests to the left; every later stage recurses on it.
        var atLimit = Let(string.Join(" + ", Enumerable.Repeat("1", MoeParser.MaxExpressionDepth + 1)));
        Assert.True(ParseOnSmallStack(atLimit).Succeeded);
        AssertTooDeep(Let(string.Join(" + ", Enumerable.Repeat("1", MoeParser.MaxExpressionDepth + 2))));
        AssertTooDeep(Let(string.Join(" * ", Enumerable.Repeat("2", 100_000))));
        AssertTooDeep("deployment \"x\" { cluster { nodes " + string.Join(" - ", Enumerable.Repeat("1", 10_000)) + " } }");
    }

    [Fact]
    public void Ten_thousand_lets_compile_in_bounded_memory()
    {
        var text = new StringBuilder("let v0 = 1\n");
        for (var i = 1; i < 10_000; i++)
        {
            text.Append("let v").Append(i).Append(" = v").Append(i - 1).Append(" + 1 # constant ").Append(i).Append('\n');
        }

        text.Append(TinyPlan().Replace("instances 1\n    parallel { dp 4  ep 4 }\n    max_batch 16", "instances v9999 - 9999\n    parallel { dp 4  ep 4 }\n    max_batch 16", StringComparison.Ordinal));
        var source = text.ToString();
        Assert.Contains("v9999 - 9999", source, StringComparison.Ordinal);

        // Time is only a hang guard here (speed is in benchmarks); memory is the bound that catches quadratic work.
        var (result, formatted, allocated) = TimeBound.Run(
            () =>
            {
                var allocatedBefore = GC.GetAllocatedBytesForCurrentThread();
                var compiled = PlanCompiler.CompileText(Tiny, source, MemorySourceResolver.FromRepository(Tiny));
                var canonical = PlanFormatter.Format(source, Tiny);
                return (compiled, canonical, GC.GetAllocatedBytesForCurrentThread() - allocatedBefore);
            },
            "compiling and formatting 10,000 lets");

        Assert.False(result.HasErrors, string.Join("\n", result.Diagnostics));
        Assert.Equal(1, result.Plan!.Decode.Instances.Value);
        Assert.True(formatted.Succeeded);
        Assert.Equal(formatted.Text, PlanFormatter.Format(formatted.Text!, Tiny).Text);
        Assert.True(allocated < 400L * 1024 * 1024, $"allocated {allocated / (1024 * 1024)} MiB for a {source.Length / 1024} KiB plan");
    }

    [Fact]
    public void A_long_line_of_settings_and_a_long_comment_are_fine()
    {
        var text = "# " + new string('x', 1_000_000) + "\n" + TinyPlan().Replace(
            "cluster { nodes 1 ", "cluster { " + string.Concat(Enumerable.Repeat("nodes 1 ", 20_000)), StringComparison.Ordinal);
        Assert.True(text.Length > 1_100_000);
        var result = TimeBound.Run(() => PlanCompiler.CompileText(Tiny, text, MemorySourceResolver.FromRepository(Tiny)), "compiling a long line");
        Assert.Contains(result.Diagnostics, d => d.Code == "MP2002");
        var formatted = TimeBound.Run(() => PlanFormatter.Format(text, Tiny), "formatting a long line");
        Assert.True(formatted.Succeeded);
    }

    public static TheoryData<string> SamplePlans() => new(RepositoryPaths.SamplePlans());

    [Theory]
    [MemberData(nameof(SamplePlans))]
    public void Compiling_a_sample_plan_twice_gives_identical_plan_json(string plan)
    {
        string Compile()
        {
            var result = PlanCompiler.Compile(plan, MemorySourceResolver.FromRepository(plan, "plans/common/slo.moe"));
            Assert.False(result.HasErrors, string.Join("\n", result.Diagnostics));
            return PlanJsonWriter.Write(result.Plan!);
        }

        var first = Compile();
        var second = Compile();
        Assert.Equal(first, second);

        // The formatted plan compiles to the same plan.json.
        var text = File.ReadAllText(RepositoryPaths.PathOf(plan.Split('/')));
        var formatted = PlanFormatter.Format(text, plan).Text!;
        var reformatted = PlanCompiler.CompileText(plan, formatted, MemorySourceResolver.FromRepository(plan, "plans/common/slo.moe"));
        Assert.Equal(first, PlanJsonWriter.Write(reformatted.Plan!));
    }
}
