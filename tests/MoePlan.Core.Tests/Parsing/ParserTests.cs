using MoePlan.Core.Parsing;
using MoePlan.Core.Syntax;
using Xunit;

namespace MoePlan.Core.Tests.Parsing;

public sealed class ParserTests
{
    private static BlockSyntax Body(string source)
    {
        var result = MoeParser.Parse(source, "t.moe");
        Assert.True(result.Succeeded, string.Join("\n", result.Diagnostics));
        return result.Syntax!.Statements.OfType<DeploymentSyntax>().Single().Body;
    }

    [Fact]
    public void Several_settings_share_a_line_when_each_starts_with_a_setting_name()
    {
        var body = Body("deployment \"d\" { prefill { parallel { dp 32 ep 32 tp 1 } } }");
        var parallel = body.Settings.Single().Block!.Settings.Single().Block!;
        Assert.Equal(["dp", "ep", "tp"], parallel.Settings.Select(s => s.Name.Name));
        Assert.All(parallel.Settings, s => Assert.Single(s.Arguments));
    }

    [Fact]
    public void Arguments_end_at_the_end_of_the_line()
    {
        var body = Body("deployment \"d\" {\n  cluster {\n    nodes 4\n    devices_per_node 8\n  }\n}");
        var cluster = body.Settings.Single().Block!;
        Assert.Equal(["nodes", "devices_per_node"], cluster.Settings.Select(s => s.Name.Name));
    }

    [Fact]
    public void An_unknown_name_on_its_own_line_is_a_setting_of_its_own()
    {
        // The binder then reports it with a suggestion; the parser keeps it whole.
        var body = Body("deployment \"d\" {\n  decode {\n    instances 1\n    paralel { dp 4 }\n  }\n}");
        var decode = body.Settings.Single().Block!;
        Assert.Equal(["instances", "paralel"], decode.Settings.Select(s => s.Name.Name));
        Assert.NotNull(decode.Settings[1].Block);
    }

    [Fact]
    public void Expressions_follow_precedence_and_comparison_words_are_arguments()
    {
        var body = Body("deployment \"d\" { cluster { nodes 4 * 3 + 18 } slo { ttft p99 < 2s } }");
        var nodes = body.Settings[0].Block!.Settings.Single().Arguments.Single();
        var sum = Assert.IsType<BinaryExpressionSyntax>(nodes);
        Assert.Equal('+', sum.Operator);
        Assert.Equal('*', Assert.IsType<BinaryExpressionSyntax>(sum.Left).Operator);
        var ttft = body.Settings[1].Block!.Settings.Single().Arguments;
        Assert.IsType<IdentifierSyntax>(ttft[0]);
        Assert.Equal("<", Assert.IsType<OperatorSyntax>(ttft[1]).Text);
        Assert.Equal("s", Assert.IsType<QuantityLiteralSyntax>(ttft[2]).Unit);
    }

    [Theory]
    [InlineData("deployment \"d\" {\n  engine sglang\n", "t.moe(3,1): error MP1005: unexpected end of file, expected `}` or a setting")]
    [InlineData("let x 4", "t.moe(1,7): error MP1001: unexpected number `4`, expected `=`")]
    [InlineData("deployment d { }", "t.moe(1,12): error MP1001: unexpected name `d`, expected string")]
    [InlineData("deployment \"d\" { engine { } }\n}", "t.moe(2,1): error MP1001: unexpected `}`, expected `import`, `let` or `deployment`")]
    public void Syntax_errors_name_the_token_and_what_was_expected(string source, string expected)
    {
        var result = MoeParser.Parse(source, "t.moe");
        Assert.False(result.Succeeded);
        Assert.Equal(expected, Assert.Single(result.Diagnostics).ToString());
    }
}
