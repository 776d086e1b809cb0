using MoePlan.Core.Compilation;
using MoePlan.Core.Cost;
using MoePlan.Core.Diagnostics;
using MoePlan.Core.Plan;
using MoePlan.Tests.Support;
using Xunit;

namespace MoePlan.Core.Tests.Cost;

/// <summary>NVFP4 / MXFP4 expert weights: their bytes, their compute rate, and where the verifier allows them.</summary>
public sealed class FourBitPrecisionTests
{
    private const string SamplePlan = "plans/deepseek-r1-b200-nvfp4.moe";

    private static DeploymentPlan Sample() => PlanCompiler.Compile(SamplePlan, MemorySourceResolver.FromRepository(SamplePlan)).Plan!;

    private static DeploymentPlan WithExperts(DeploymentPlan plan, NumericFormat format) =>
        plan with { Precision = plan.Precision with { Experts = plan.Precision.Experts with { Value = format } } };

    [Fact]
    public void The_sample_fp4_plan_checks_clean_with_fp8_attention_and_fp8_dispatch()
    {
        var result = PlanCompiler.Compile(SamplePlan, MemorySourceResolver.FromRepository(SamplePlan));
        Assert.DoesNotContain(result.Diagnostics, d => d.IsError || d.Severity == DiagnosticSeverity.Warning);
        var p = result.Plan!.Precision;
        Assert.Equal(NumericFormat.Nvfp4, p.Experts.Value);
        Assert.Equal(NumericFormat.Fp8, p.Attention.Value);

        // DeepEP dispatches FP8 or BF16: FP4 experts take FP8 activations off the wire.
        Assert.Equal(NumericFormat.Fp8, p.Dispatch.Value);
    }

    [Fact]
    public void Fp4_experts_run_at_the_fp4_rate_and_read_fp4_bytes_while_attention_keeps_the_fp8_rate()
    {
        var fp4 = Sample();
        var fp8 = WithExperts(fp4, NumericFormat.Fp8);
        var a = PlanCostModel.Evaluate(fp4).Prefill.Step;
        var b = PlanCostModel.Evaluate(fp8).Prefill.Step;
        double Op(StepCost s, string name, Func<OpCost, double> f) => f(s.Ops.Single(o => o.Name == name));

        // B200 datasheet: 9,000 dense FP4 TFLOPS against 4,500 FP8: the same expert FLOPs take half the time.
        Assert.Equal(4500.0 / 9000, Op(a, "routed experts", o => o.ComputeMilliseconds) / Op(b, "routed experts", o => o.ComputeMilliseconds), 9);

        // NVFP4 stores 4 bits plus one 1-byte E4M3 scale per 16 elements: 0.5 + 1/16 = 0.5625 bytes against FP8's 1.
        Assert.Equal(0.5625, Op(a, "routed experts", o => o.MemoryMilliseconds) / Op(b, "routed experts", o => o.MemoryMilliseconds), 9);

        // Attention projections are FP8 in both plans: the experts' format does not change their rate.
        Assert.Equal(Op(b, "attention projections", o => o.ComputeMilliseconds), Op(a, "attention projections", o => o.ComputeMilliseconds), 9);
    }

    [Fact]
    public void Fp4_expert_weights_take_their_share_of_memory()
    {
        var fp4 = Sample();
        var fp8 = WithExperts(fp4, NumericFormat.Fp8);
        var mxfp4 = WithExperts(fp4, NumericFormat.Mxfp4);

        // Only the experts' bytes differ between the three plans, so the differences are expert bytes x (1 - ratio):
        // FP8 1 byte, NVFP4 0.5625 (4 bits + E4M3 scale per 16), MXFP4 0.53125 (4 bits + E8M0 scale per 32, OCP MX v1.0).
        var w8 = MemoryModel.Compute(fp8, fp8.Decode).WeightBytes;
        var w4 = MemoryModel.Compute(fp4, fp4.Decode).WeightBytes;
        var wmx = MemoryModel.Compute(mxfp4, mxfp4.Decode).WeightBytes;
        var expertBytesAtFp8 = (w8 - w4) / (1 - 0.5625);
        Assert.True(expertBytesAtFp8 > 0);
        Assert.Equal(w8 - (expertBytesAtFp8 * (1 - 0.53125)), wmx, 3);
    }

    [Theory]
    [InlineData("precision nvfp4", "h800", 1)] // one word sets experts, attention and dense: reported once
    [InlineData("precision fp8 { experts mxfp4  dense nvfp4 }", "h800", 2)]
    [InlineData("precision fp8 { experts nvfp4 }", "ascend-910c", 1)]
    [InlineData("precision fp8 { experts nvfp4 }", "b200", 0)]
    [InlineData("precision mxfp4", "gb200", 0)]
    public void Fp4_weights_need_a_chip_with_fp4_tensor_cores(string precision, string hardware, int expected)
    {
        var text = File.ReadAllText(RepositoryPaths.PathOf("plans", "deepseek-r1-b200-nvfp4.moe"))
            .Replace("precision fp8 { experts nvfp4  kv_cache fp8 }", precision, StringComparison.Ordinal)
            .Replace("hardware b200", "hardware " + hardware, StringComparison.Ordinal);
        var diagnostics = PlanCompiler.Compile("p.moe", new MemorySourceResolver(new Dictionary<string, string> { ["p.moe"] = text })).Diagnostics;
        var found = diagnostics.Where(d => d.Code == "MP3030").ToList();
        Assert.Equal(expected, found.Count);
        Assert.All(found, d => Assert.Equal(hardware == "ascend-910c" ? "int8" : "fp8", d.Fix!.Edits.Single().NewText));
    }

    [Theory]
    [InlineData("kv_cache nvfp4")]
    [InlineData("dispatch mxfp4")]
    [InlineData("combine nvfp4")]
    public void Fp4_is_for_weights_only(string part)
    {
        var text = File.ReadAllText(RepositoryPaths.PathOf("plans", "deepseek-r1-b200-nvfp4.moe"))
            .Replace("kv_cache fp8", part, StringComparison.Ordinal);
        var diagnostics = PlanCompiler.Compile("p.moe", new MemorySourceResolver(new Dictionary<string, string> { ["p.moe"] = text })).Diagnostics;
        var d = Assert.Single(diagnostics, d => d.Code == "MP3031");
        Assert.Equal("fp8", d.Fix!.Edits.Single().NewText);
    }
}
