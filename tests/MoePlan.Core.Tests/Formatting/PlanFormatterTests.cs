using MoePlan.Core.Formatting;
using MoePlan.Core.Parsing;
using MoePlan.Tests.Support;
using Xunit;

namespace MoePlan.Core.Tests.Formatting;

public sealed class PlanFormatterTests
{
    private static string Format(string text)
    {
        var result = PlanFormatter.Format(text, "test.moe");
        Assert.True(result.Succeeded, string.Join("\n", result.Diagnostics));
        return result.Text!;
    }

    /// <summary>Formatting keeps the tree and the comments, and formats to itself.</summary>
    private static void AssertCanonicalRoundTrip(string text)
    {
        var formatted = Format(text);
        var before = MoeParser.Parse(text, "a.moe").Syntax!;
        var after = MoeParser.Parse(formatted, "b.moe").Syntax;
        Assert.NotNull(after);
        Assert.Equal(SyntaxShape.Of(before), SyntaxShape.Of(after));
        Assert.Equal(SyntaxShape.Comments(before), SyntaxShape.Comments(after));
        Assert.Equal(formatted, Format(formatted));
    }

    [Fact]
    public void Settings_go_one_per_line_with_two_space_indentation_and_single_spaces()
    {
        const string text = "deployment  \"x\"{engine   vllm\n\tmodel\tdeepseek-v3   hardware h800\n workload{arrivals poisson 40/s\n  requests 10}}";
        Assert.Equal(
            """
            deployment "x" {
              engine vllm
              model deepseek-v3
              hardware h800
              workload {
                arrivals poisson 40/s
                requests 10
              }
            }

            """.ReplaceLineEndings("\n"),
            Format(text));
    }

    [Fact]
    public void A_block_written_on_one_line_without_nested_blocks_stays_on_one_line()
    {
        const string text = "deployment \"x\" {\n  cluster {nodes 2 devices_per_node   8}\n  workload { input lognormal { mean 1  sd 2 } output fixed 3 }\n  prefill {\n  }\n}\n";
        Assert.Equal(
            """
            deployment "x" {
              cluster { nodes 2  devices_per_node 8 }
              workload {
                input lognormal { mean 1  sd 2 }
                output fixed 3
              }
              prefill {}
            }

            """.ReplaceLineEndings("\n"),
            Format(text));
    }

    [Fact]
    public void A_multi_line_block_is_never_joined()
    {
        const string text = "deployment \"x\" {\n  parallel {\n dp 4 }\n}\n";
        Assert.Equal("deployment \"x\" {\n  parallel {\n    dp 4\n  }\n}\n", Format(text));
    }

    [Fact]
    public void Expressions_get_single_spaces_around_operators_and_keep_parentheses()
    {
        Assert.Equal("let a = (1 + 2) * -b / 3 - 4\n", Format("let a=(1+2)*-b/3 -4"));
        Assert.Equal("let a = 2 + 3 * 4\n", Format("let a = 2 +\n   3*4\n"));
        Assert.Equal("let a = 16_384 + 2.0usd/device-hour + \"s\"\n", Format("let a = 16_384+2.0usd/device-hour+\"s\""));
    }

    [Fact]
    public void Comparison_operators_and_strings_are_kept()
    {
        const string text = "deployment \"x\" { slo { ttft p99<2s  tpot mean <=50ms } placement { loads \"a \\\"b\\\".json\" } }";
        Assert.Equal(
            """
            deployment "x" {
              slo { ttft p99 < 2s  tpot mean <= 50ms }
              placement { loads "a \"b\".json" }
            }

            """.ReplaceLineEndings("\n"),
            Format(text));
    }

    [Fact]
    public void Comments_stay_before_what_they_preceded_or_at_the_end_of_their_line()
    {
        const string text = """
            # header
              # indented header
            import "common/slo.moe"   # why
            let a = 1 +   # one
               # two
              2
            deployment "x" {
                 # before engine
              engine vllm      # trailing
              cluster { nodes 1 }  # after block
              prefill { # open
                instances 1
                # before close
              }
            # last in block
            }
            # tail
            """;
        Assert.Equal(
            """
            # header
            # indented header
            import "common/slo.moe" # why
            let a = 1 + 2 # one
            # two
            deployment "x" {
              # before engine
              engine vllm # trailing
              cluster { nodes 1 } # after block
              prefill { # open
                instances 1
                # before close
              }
              # last in block
            }
            # tail

            """.ReplaceLineEndings("\n"),
            Format(text.ReplaceLineEndings("\n")));
        AssertCanonicalRoundTrip(text.ReplaceLineEndings("\n"));
    }

    [Fact]
    public void Blank_lines_are_kept_as_at_most_one_and_never_at_block_edges()
    {
        const string text = "\n\n# c\n\n\n\nlet a = 1\nlet b = 2\n\n\nlet c = 3\ndeployment \"x\" {\n\n\n  engine vllm\n\n\n  # note\n\n  model m\n\n}\n\n\n";
        Assert.Equal("# c\n\nlet a = 1\nlet b = 2\n\nlet c = 3\ndeployment \"x\" {\n  engine vllm\n\n  # note\n\n  model m\n}\n", Format(text));
    }

    [Fact]
    public void The_line_ending_style_of_the_first_line_break_is_kept()
    {
        Assert.Equal("let a = 1\r\n\r\nlet b = 2\r\n", Format("let a = 1\r\n\r\nlet b = 2\n"));
        Assert.Equal("let a = 1\n", Format("let a = 1"));
        Assert.Equal("# c\n", Format("# c   \r"));
    }

    [Fact]
    public void An_empty_file_stays_empty()
    {
        Assert.Equal("", Format(""));
        Assert.Equal("", Format(" \n\t\n"));
    }

    [Fact]
    public void A_file_that_does_not_parse_gives_its_diagnostics_and_no_text()
    {
        var result = PlanFormatter.Format("deployment \"x\" {\n  engine vllm\n", "bad.moe");
        Assert.False(result.Succeeded);
        Assert.Null(result.Text);
        var diagnostic = Assert.Single(result.Diagnostics);
        Assert.Equal("MP1005", diagnostic.Code);
        Assert.Equal("bad.moe", diagnostic.Span!.Value.File);
    }

    [Fact]
    public void Settings_of_an_unknown_block_keep_their_arguments()
    {
        // In a block the schema does not know, every name on a setting's line is an argument: a one-line block
        // must stay one setting, and a multi-line one must keep its settings apart.
        AssertCanonicalRoundTrip("deployment \"x\" {\n  engine vllm { a 1 b 2 }\n  model m {\n    a 1\n    b 2\n  }\n}\n");
        Assert.Equal("deployment \"x\" {\n  engine vllm { a 1 b 2 }\n}\n", Format("deployment \"x\" { engine vllm {a 1 b 2} }"));
    }

    public static TheoryData<string> SamplePlans()
    {
        var data = new TheoryData<string>();
        foreach (var plan in RepositoryPaths.SamplePlans().Append("plans/common/slo.moe"))
        {
            data.Add(plan);
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(SamplePlans))]
    public void Sample_plans_format_to_the_same_tree_and_comments_and_idempotently(string plan)
    {
        var text = File.ReadAllText(RepositoryPaths.PathOf(plan.Split('/')));
        AssertCanonicalRoundTrip(text);

        // Only horizontal white space may change in the samples: the same lines, the same words.
        var formatted = Format(text);
        static string[] Words(string s) => s.Split([' ', '\t', '\r', '\n'], StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(Words(text), Words(formatted));
        Assert.Equal(text.Split('\n').Length, formatted.Split('\n').Length);
    }
}
