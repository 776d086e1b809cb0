using MoePlan.Core.Compilation;
using MoePlan.Core.Plan;
using MoePlan.Tests.Support;
using Xunit;

namespace MoePlan.Core.Tests.Binding;

public sealed class BinderTests
{
    private const string Plan = """
        import "shared.moe"
        let prefill_nodes = 2
        deployment "d" {
          engine sglang
          model deepseek-v3
          precision fp8 { kv_cache bf16  combine bf16 }
          hardware h800
          cluster { nodes prefill_nodes * 2 + (8 - 4)  scale_out_bandwidth 400Gbps }
          price 2.5usd/device-hour
          prefill { instances 2  parallel { dp 16 ep 16 }  max_batch_tokens 8192 per device  microbatch_overlap on }
          decode {
            instances 1
            parallel { dp 32  ep 32 }
            max_batch 64 per device
            context 2 * 2048
            mtp { draft_tokens 1  acceptance 80% }
          }
          placement { redundant_experts 32  loads synthetic seed 9 }
          slo { ttft p99 < ttft_limit  tpot mean <= 50ms }
          workload {
            arrivals poisson 12000/min
            input lognormal { mean 2048  sd 1024  max 3584 }
            output fixed 512
            prefix_share 25%
          }
        }
        """;

    private static DeploymentPlan Bind(string text)
    {
        var resolver = new MemorySourceResolver(new Dictionary<string, string>
        {
            ["shared.moe"] = "let ttft_limit = 1.5s + 500ms\n",
        });
        var result = PlanCompiler.CompileText("main.moe", text, resolver);
        Assert.False(result.HasErrors, string.Join("\n", result.Diagnostics));
        return result.Plan!;
    }

    [Fact]
    public void Lets_imports_arithmetic_and_units_are_normalised()
    {
        var plan = Bind(Plan);
        Assert.Equal(8, plan.Cluster.Nodes.Value);                 // 2 * 2 + (8 - 4)
        Assert.Equal(50e9, plan.Cluster.ScaleOutBytesPerSecond!.Value.Value); // 400 Gb/s / 8 bits
        Assert.Equal(2.5, plan.PriceUsdPerDeviceHour!.Value.Value);
        Assert.Equal(4096, plan.Decode.ContextTokens!.Value.Value);
        Assert.Equal(0.8, plan.Decode.Mtp!.Acceptance.Value, 12);
        Assert.Equal(1.8, plan.Decode.Mtp.TokensPerStep, 12);
        Assert.Equal(2000, plan.Slo.Ttft!.Milliseconds);           // 1.5 s + 500 ms, from the import
        Assert.Equal(99, plan.Slo.Ttft.Percentile);
        Assert.Equal("mean", plan.Slo.Tpot!.StatisticName);
        Assert.True(plan.Slo.Tpot.Inclusive);
        Assert.Equal(200, plan.Workload.Arrivals!.RatePerSecond, 9); // 12000 per minute
        Assert.Equal(0.25, plan.Workload.PrefixShare.Value, 12);
        var input = Assert.IsType<LogNormalLength>(plan.Workload.Input);
        Assert.Equal((2048.0, 1024.0, (int?)3584), (input.MeanTokens, input.StandardDeviationTokens, input.Max));
    }

    [Fact]
    public void Omitted_settings_take_documented_defaults()
    {
        var plan = Bind(Plan);
        Assert.Equal(NumericFormat.Fp8, plan.Precision.Attention.Value);
        Assert.Equal(NumericFormat.Fp8, plan.Precision.Dispatch.Value);   // follows fp8 experts
        Assert.Equal(NumericFormat.Bf16, plan.Precision.Combine.Value);
        Assert.Equal(8, plan.Cluster.DevicesPerNode.Value);              // h800 catalog: 8 per node
        Assert.True(plan.Cluster.DevicesPerNode.IsDefault);
        Assert.Equal(1, plan.Prefill.Parallel.TensorParallel.Value);
        Assert.Equal(ProxyMode.Parallel, plan.Proxy.Mode.Value);         // SGLang
        Assert.Equal("omni", plan.Proxy.Policy.Value);
        Assert.True(plan.Proxy.Apc.Value && plan.Proxy.TokenizerReuse.Value);
        Assert.Equal("moeplan", plan.Placement.Algorithm.Value);
        Assert.Equal(9, Assert.IsType<SyntheticLoadSource>(plan.Placement.Loads).Seed);
        Assert.False(plan.Decode.MicrobatchOverlap.Value);
    }

    [Fact]
    public void Spans_point_at_the_text_that_set_each_value()
    {
        var plan = Bind(Plan);
        var lines = Plan.Split('\n');
        var ep = plan.Decode.Parallel.ExpertParallel.Span;
        Assert.Equal("32", lines[ep.Line - 1].Substring(ep.Column - 1, ep.Length));
        Assert.Equal("main.moe", ep.File);
    }

    [Fact]
    public void A_model_can_come_from_a_huggingface_config()
    {
        var config = File.ReadAllText(TestData.PathOf("models", "Qwen3-235B-A22B.config.json"));
        var resolver = new MemorySourceResolver(new Dictionary<string, string> { ["models/qwen3.config.json"] = config });
        var text = Plan.Replace("import \"shared.moe\"", "let ttft_limit = 2s", StringComparison.Ordinal)
            .Replace("model deepseek-v3", "model from \"models/qwen3.config.json\"", StringComparison.Ordinal)
            .Replace("precision fp8 { kv_cache bf16  combine bf16 }", "", StringComparison.Ordinal)
            .Replace("redundant_experts 32", "redundant_experts 0", StringComparison.Ordinal)
            .Replace("mtp { draft_tokens 1  acceptance 80% }", "", StringComparison.Ordinal)
            .Replace("max_batch 64 per device", "max_batch 32 per device", StringComparison.Ordinal); // GQA KV is 2.7x MLA's
        var result = PlanCompiler.CompileText("main.moe", text, resolver);
        Assert.False(result.HasErrors, string.Join("\n", result.Diagnostics));
        Assert.Equal(128, result.Plan!.Model.Entry.Architecture.RoutedExperts);
        Assert.Equal("models/qwen3.config.json", result.Plan.Model.ConfigPath);
    }
}
