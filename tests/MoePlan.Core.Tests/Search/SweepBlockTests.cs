using MoePlan.Core.Compilation;
using MoePlan.Core.Diagnostics;
using MoePlan.Core.Formatting;
using MoePlan.Core.Parsing;
using MoePlan.Core.Plan;
using MoePlan.Core.Search;
using MoePlan.Core.Syntax;
using MoePlan.Core.Tests.Formatting;
using MoePlan.Tests.Support;
using Xunit;

namespace MoePlan.Core.Tests.Search;

/// <summary>The <c>sweep</c> block: binding, its diagnostics (MP2030-MP2033) with locations, formatting.</summary>
public sealed class SweepBlockTests
{
    private const string SamplePath = "plans/search/deepseek-v3-64xh800.moe";

    /// <summary>The tiny runtime plan with <paramref name="sweep"/> as its last block (line 30 onwards).</summary>
    private static string TinyWith(string sweep) => $$"""
        let most = 8
        deployment "tiny" {
          engine vllm
          model qwen1.5-moe-a2.7b
          hardware ascend-910c
          cluster { nodes 1  devices_per_node 4 }
          prefill {
            instances 1
            parallel { dp 4  ep 4 }
            max_batch_tokens 4096 per device
          }
          decode {
            instances 1
            parallel { dp 4  ep 4 }
            max_batch 16 per device
            context 2048
          }
          placement {
            algorithm moeplan
            redundant_experts 4
            loads synthetic seed 15
          }
          workload {
            arrivals constant 4/s
            input uniform { min 64  max 512 }
            output fixed 32
            requests 200
            seed 4
          }
          sweep {
        {{sweep}}
          }
        }
        """;

    private const int SweepLine = 30;

    private static CompilationResult Compile(string text) =>
        PlanCompiler.Compile("tiny.moe", new MemorySourceResolver(new Dictionary<string, string>(StringComparer.Ordinal) { ["tiny.moe"] = text }));

    [Fact]
    public void The_sample_sweep_binds_in_written_order_with_its_devices()
    {
        var result = PlanCompiler.Compile(SamplePath, MemorySourceResolver.FromRepository(SamplePath));
        Assert.DoesNotContain(result.Diagnostics, d => d.IsError);
        var sweep = result.Plan!.Sweep;
        Assert.NotNull(sweep);
        Assert.Equal(64, sweep.Devices!.Value.Value);
        Assert.Equal(
            ["prefill.instances", "prefill.dp", "prefill.ep", "decode.dp", "decode.ep", "decode.max_batch", "placement.redundant_experts", "proxy.policy"],
            sweep.Dimensions.Select(d => d.Name));

        // As written: `decode.dp 8 to 48` = 41 values, `16 to 128 doubling` = 16, 32, 64, 128, `omni round-robin` = indexes 0 and 2 of the binder's list.
        Assert.Equal(Enumerable.Range(8, 41), sweep.Dimensions.Single(d => d.Name == "decode.dp").Values);
        Assert.Equal([16, 32, 64, 128], sweep.Dimensions.Single(d => d.Name == "decode.max_batch").Values);
        Assert.Equal([SweepDimensions.SameAsDataParallel], sweep.Dimensions.Single(d => d.Name == "decode.ep").Values);
        Assert.Equal(["omni", "round-robin"], sweep.Dimensions.Single(d => d.Name == "proxy.policy").Values.Select(i => RoutingPolicyCatalog.BuiltNames[i]));
    }

    [Fact]
    public void Values_take_let_constants_steps_and_every_kind_of_word()
    {
        var result = Compile(TinyWith("""
                decode.max_batch 4 to most * 2 step 4
                prefill.overlap on off
                proxy.mode sequential parallel
                decode.ep dp 2
            """));
        Assert.DoesNotContain(result.Diagnostics, d => d.IsError);
        var dims = result.Plan!.Sweep!.Dimensions;
        Assert.Equal([4, 8, 12, 16], dims.Single(d => d.Dimension == SearchDimension.DecodeMaxBatch).Values);
        Assert.Equal([1, 0], dims.Single(d => d.Dimension == SearchDimension.PrefillOverlap).Values);
        Assert.Equal([0, 1], dims.Single(d => d.Dimension == SearchDimension.ProxyMode).Values);
        Assert.Equal([SweepDimensions.SameAsDataParallel, 2], dims.Single(d => d.Dimension == SearchDimension.DecodeExpertParallel).Values);
        Assert.Equal(SweepLine + 1, dims[0].Span!.Value.Line);
    }

    [Fact]
    public void A_sweep_of_only_devices_varies_nothing_and_candidates_carry_no_sweep()
    {
        var result = Compile(TinyWith("devices 4"));
        Assert.Empty(result.Plan!.Sweep!.Dimensions);
        var space = SearchSpace.Create(result.Plan, [], null, out var error);
        Assert.True(space is not null, error);
        Assert.Null(space.PlanOf(space.First()).Sweep);
    }

    /// <param name="at">The text the diagnostic points at (its first occurrence in the sweep line).</param>
    [Theory]
    [InlineData("MP2030", "    decode.dp 8 to 4", "8", "the range 8 to 4 is empty")]
    [InlineData("MP2031", "    decode.max_batch 16 to 64 step 0", "0", "the step must be a whole number of 1 or more")]
    [InlineData("MP2031", "    decode.max_batch 16 step 2", "step", "`step` follows a range")]
    [InlineData("MP2031", "    placement.redundant_experts 0 to 8 doubling", "0", "a doubling range must start above 0")]
    [InlineData("MP2032", "    decode.overlap on maybe", "maybe", "'maybe' is not on or off")]
    [InlineData("MP2032", "    proxy.policy omni fastest", "fastest", "'fastest' is not a proxy policy")]
    [InlineData("MP2032", "    decode.dp 0 4", "0", "values must be at least 1")]
    [InlineData("MP2032", "    decode.tp \"two\"", "\"two\"", "'\"two\"' is not a non-negative integer")]
    [InlineData("MP2033", "    decode.mtp on off", "decode.mtp", "needs the decode pool's `mtp")]
    [InlineData("MP2033", "    devices 6", "6", "is not a multiple of the 4 devices per node")]
    [InlineData("MP2001", "    decode.pp 2", "decode.pp", "unknown setting `decode.pp`")]
    public void Bad_sweeps_are_reported_at_the_value(string code, string sweep, string at, string message)
    {
        var result = Compile(TinyWith(sweep));
        Assert.Null(result.Plan);
        var d = Assert.Single(result.Diagnostics, d => d.IsError);
        Assert.Equal(code, d.Code);
        Assert.Equal(SweepLine + 1, d.Span!.Value.Line);
        Assert.Equal(sweep.IndexOf(at, StringComparison.Ordinal) + 1, d.Span.Value.Column);
        Assert.Contains(message, d.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Each_sweep_code_is_its_own()
    {
        Assert.Equal("MP2030", DiagnosticCodes.SweepEmptyRange.Code);
        Assert.Equal("MP2031", DiagnosticCodes.SweepBadStep.Code);
        Assert.Equal("MP2032", DiagnosticCodes.SweepWrongValue.Code);
        Assert.Equal("MP2033", DiagnosticCodes.SweepNotApplicable.Code);
    }

    [Fact]
    public void The_sweep_block_accepts_exactly_the_search_dimensions_and_devices()
    {
        Assert.Equal(
            SweepDimensions.Names.Keys.Append("devices").Order(StringComparer.Ordinal),
            LanguageSchema.SettingNames("sweep").Order(StringComparer.Ordinal));
    }

    [Fact]
    public void Fmt_keeps_a_sweep_canonical_and_round_trips()
    {
        const string messy = "deployment \"x\" {\n  engine vllm\n sweep{devices   64\n   decode.max_batch  16 to   128 doubling # powers of two\n decode.ep dp   8\n proxy.policy omni  round-robin}\n}\n";
        var formatted = PlanFormatter.Format(messy, "x.moe").Text!;
        Assert.Equal(
            """
            deployment "x" {
              engine vllm
              sweep {
                devices 64
                decode.max_batch 16 to 128 doubling # powers of two
                decode.ep dp 8
                proxy.policy omni round-robin
              }
            }

            """.ReplaceLineEndings("\n"),
            formatted);
        Assert.Equal(formatted, PlanFormatter.Format(formatted, "y.moe").Text);
        Assert.Equal(SyntaxShape.Of(MoeParser.Parse(messy, "a.moe").Syntax!), SyntaxShape.Of(MoeParser.Parse(formatted, "b.moe").Syntax!));

        var sample = File.ReadAllText(RepositoryPaths.PathOf(SamplePath.Split('/')));
        Assert.Equal(sample, PlanFormatter.Format(sample, SamplePath).Text);
    }
}
