using MoePlan.Core.Catalog;
using MoePlan.Core.Compilation;
using MoePlan.Core.Cost;
using MoePlan.Core.Plan;
using MoePlan.Tests.Support;
using Xunit;

namespace MoePlan.Core.Tests.Cost;

/// <summary>
/// Experts under tensor-parallel attention. An instance of 8 ranks computing 8192 tokens does the same expert work
/// whether its attention is TP 8 (one DP rank of 8192 tokens) or DP 8 (eight DP ranks of 1024 tokens): in both,
/// the 8192 x top-8 rows spread over 8 EP ranks, 8192 rows per rank.
/// </summary>
public sealed class TensorParallelExpertTests
{
    private const string PlanPath = "plans/qwen3-235b-h200.moe";
    private static readonly DeploymentPlan Plan = PlanCompiler.Compile(PlanPath, MemorySourceResolver.FromRepository(PlanPath)).Plan!;
    private static readonly ModelArchitecture Qwen3 = Plan.Model.Entry.Architecture;

    private static StepCost Prefill(double tokensPerDpRank, int tp, int dp, int ep) =>
        StepCostModel.Evaluate(Qwen3, ParameterCounter.Count(Qwen3), Plan.Precision,
            new StepShape(PoolRole.Prefill, tokensPerDpRank, tokensPerDpRank / 2048, 1024, tp, dp, ep, 128, 1, false, 0, PerfectBalance: true),
            PlanCostModel.Machine(Plan));

    private static OpCost Op(StepCost step, string name) => step.Ops.Single(o => o.Name == name);

    [Fact]
    public void Tp_attention_gives_each_ep_rank_its_share_of_the_rows()
    {
        // Qwen3-235B-A22B (config.json): hidden 4096, moe_intermediate_size 1536, 128 experts, top-8, 94 layers, all MoE.
        // One expert: gate, up and down = 3 x 4096 x 1536 = 18,874,368 weights. Busiest rank (perfect balance):
        // 8192 x 8 / 8 = 8192 rows over 16 local experts, 512 rows each: 94 x 2 x 8192 x 18,874,368 FLOPs.
        Assert.Equal(18_874_368, ParameterCounter.Count(Qwen3).ExpertParameters);
        var tp = Prefill(8192, tp: 8, dp: 1, ep: 8);
        var machine = PlanCostModel.Machine(Plan);
        var peak = Plan.Precision.Experts.Value == NumericFormat.Bf16 ? machine.PeakBf16Flops : machine.PeakFlops;
        var expected = 94 * 2.0 * 8192 * 18_874_368 / (peak * machine.Efficiency.GemmAt(512)) * 1e3;
        Assert.Equal(expected, Op(tp, "routed experts").ComputeMilliseconds, 9);

        // The same instance with DP attention: identical expert work and identical all-to-all volume per rank.
        var dp = Prefill(1024, tp: 1, dp: 8, ep: 8);
        Assert.Equal(Op(dp, "routed experts").ComputeMilliseconds, Op(tp, "routed experts").ComputeMilliseconds, 9);
        Assert.Equal(Op(dp, "routed experts").MemoryMilliseconds, Op(tp, "routed experts").MemoryMilliseconds, 9);
        Assert.Equal(Op(dp, "all-to-all dispatch").CommunicationMilliseconds, Op(tp, "all-to-all dispatch").CommunicationMilliseconds, 9);
    }

    [Fact]
    public void Experts_split_by_tensor_parallelism_when_ep_is_below_the_ranks()
    {
        // dp 2 x tp 4 = 8 ranks, ep 2: two EP groups of 4 ranks, each holding a quarter of its 64 local experts.
        // An EP group gets 2 x 4096 x 8 / 2 = 32,768 rows, 512 per local expert; per rank a quarter of the weights:
        // 94 x 2 x 32,768 x 18,874,368 / 4 FLOPs, the same as 8192 rows of whole experts.
        var split = Prefill(4096, tp: 4, dp: 2, ep: 2);
        var machine = PlanCostModel.Machine(Plan);
        var peak = Plan.Precision.Experts.Value == NumericFormat.Bf16 ? machine.PeakBf16Flops : machine.PeakFlops;
        var expected = 94 * 2.0 * 32_768 * 18_874_368 / 4 / (peak * machine.Efficiency.GemmAt(512)) * 1e3;
        Assert.Equal(expected, Op(split, "routed experts").ComputeMilliseconds, 9);
    }
}
