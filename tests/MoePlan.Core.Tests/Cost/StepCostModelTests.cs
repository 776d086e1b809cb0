using MoePlan.Core.Catalog;
using MoePlan.Core.Compilation;
using MoePlan.Core.Cost;
using MoePlan.Core.Plan;
using MoePlan.Tests.Support;
using Xunit;

namespace MoePlan.Core.Tests.Cost;

public sealed class StepCostModelTests
{
    private static readonly ModelArchitecture V3 = EmbeddedCatalog.Instance.FindModel("deepseek-v3")!.Architecture;

    [Fact]
    public void All_to_all_inside_one_domain_sends_every_copy_but_the_local_one_over_scale_up()
    {
        // EP8 in an 8-GPU node: of 8 copies, 8 x 7/8 = 7 leave the rank, none leave the node.
        Assert.Equal((7.0, 0.0), StepCostModel.AllToAllCopies(V3, PoolRole.Decode, 8, 8));
    }

    [Fact]
    public void Low_latency_decode_sends_each_remote_copy_over_the_nic()
    {
        // EP72 over 9 nodes of 8: 8 x 1/9 copies stay in the node, 8 x 8/9 = 7.11 cross it.
        var (intra, remote) = StepCostModel.AllToAllCopies(V3, PoolRole.Decode, 72, 8);
        Assert.Equal(8.0 / 9, intra, 12);
        Assert.Equal(64.0 / 9, remote, 12);
    }

    [Fact]
    public void High_throughput_prefill_sends_once_per_destination_node_capped_by_node_limited_routing()
    {
        // EP32 over 4 nodes: a token's 8 experts touch 4 x (1 - (3/4)^8) = 3.5995 nodes on average (under the cap of 4
        // groups), of which 3/4 are remote: 2.6996 copies over the NIC; all 8 fan out over NVLink.
        var (intra, remote) = StepCostModel.AllToAllCopies(V3, PoolRole.Prefill, 32, 8);
        Assert.Equal(8, intra);
        Assert.Equal(4 * (1 - Math.Pow(0.75, 8)) * 0.75, remote, 12);

        // EP144 over 18 nodes: 18 x (1 - (17/18)^8) = 6.0 nodes would be touched, DeepSeek caps at 4: 4 x 17/18 remote.
        Assert.Equal(4 * 17.0 / 18, StepCostModel.AllToAllCopies(V3, PoolRole.Prefill, 144, 8).Remote, 12);
    }

    [Fact]
    public void Routing_spread_is_the_gaussian_extreme_of_poisson_counts()
    {
        // 2048 copies per rank over 72 ranks: 1 + sqrt(2 ln 72 / 2048) = 1 + sqrt(8.5533 / 2048) = 1.06463.
        Assert.Equal(1.06463, StepCostModel.RoutingSpread(2048, 72), 5);
        Assert.Equal(1, StepCostModel.RoutingSpread(2048, 1));
    }

    [Fact]
    public void Gemm_efficiency_saturates_with_rows()
    {
        var e = EfficiencyFactors.Hopper with { GemmEfficiency = 0.6, GemmHalfRows = 32 };
        Assert.Equal(0.3, e.GemmAt(32), 12);
        Assert.Equal(0.6 * 992 / 1024, e.GemmAt(992), 12);
    }

    [Fact]
    public void Decode_attention_core_of_the_lmsys_setup_matches_a_hand_roofline()
    {
        var plan = PlanCompiler.Compile("plans/calibration/sglang-h100-decode.moe",
            MemorySourceResolver.FromRepository("plans/calibration/sglang-h100-decode.moe")).Plan!;
        var report = PlanCostModel.Evaluate(plan);
        var core = report.Decode.Step.Ops.Single(o => o.Name == "attention core");

        // 256 sequences per GPU, KV 1950 + 100 / 2 = 2000. Absorbed MLA per token per layer:
        // FLOPs 2 x 128 x (576 + 512) x 2000 = 557,056,000; per step 256 x 61 x 557,056,000 = 8.699e12 FLOP
        // at 989e12 x 0.667 (FlashMLA's efficiency) = 659.66e12 FLOP/s: 13.187 ms.
        // Bytes: 2000 x 576 x 2 (bf16) per token per layer = 2,304,000; x 256 x 61 = 35.98e9 B / (3.35e12 x 0.896, FlashMLA's measured 3,000 of 3,350 GB/s) = 11.987 ms.
        Assert.Equal(256 * 61 * 557_056_000.0 / (989e12 * 0.667) * 1e3, core.ComputeMilliseconds, 6);
        Assert.Equal(256 * 61 * 2_304_000.0 / (3.35e12 * 0.896) * 1e3, core.MemoryMilliseconds, 6);
        Assert.Equal(2000, report.Decode.KvLength);
    }

    [Fact]
    public void Prefill_attention_core_of_the_lmsys_setup_matches_a_hand_roofline()
    {
        var plan = PlanCompiler.Compile("plans/calibration/sglang-h100-prefill-in4k.moe",
            MemorySourceResolver.FromRepository("plans/calibration/sglang-h100-prefill-in4k.moe")).Plan!;
        var report = PlanCostModel.Evaluate(plan);
        var core = report.Prefill.Step.Ops.Single(o => o.Name == "attention core");

        // 16,384 tokens per GPU of 4,096-token prompts, nothing cached: each token attends causally to half its prompt,
        // 2,048 positions. Prefill-form MLA per token per layer: 2 x 128 heads x ((128 + 64) + 128) x 2,048 = 167,772,160
        // FLOPs; per step 16,384 x 61 x 167,772,160 = 1.6767e14 FLOP at 989e12 x 0.368 (Hopper's prefill-form
        // efficiency, not FlashMLA's decode figure) = 363.95e12 FLOP/s: 460.7 ms. Compute-bound: no HBM term.
        Assert.Equal(0.368, EfficiencyFactors.Hopper.PrefillAttentionEfficiency);
        Assert.Equal(16_384 * 61 * 167_772_160.0 / (989e12 * 0.368) * 1e3, core.ComputeMilliseconds, 6);
        Assert.Equal(0, core.MemoryMilliseconds);
        Assert.Equal(2048, report.Prefill.Step.AttentionContext);
    }

    [Fact]
    public void Tpot_throughput_and_cost_follow_from_the_step()
    {
        var plan = PlanCompiler.Compile("plans/calibration/sglang-h100-decode-mtp.moe",
            MemorySourceResolver.FromRepository("plans/calibration/sglang-h100-decode-mtp.moe")).Plan!;
        var r = PlanCostModel.Evaluate(plan);

        // One draft token at 60% acceptance: 1.6 tokens per step; the step computes 2 tokens per sequence.
        Assert.Equal(1.6, r.Decode.TokensPerStep, 12);
        Assert.Equal(256, r.Decode.Step.TokensPerRank);
        Assert.Equal(r.Decode.Step.StepMilliseconds / 1.6, r.Decode.TpotMilliseconds, 9);
        Assert.Equal(128 * 1.6 / (r.Decode.Step.StepMilliseconds / 1e3), r.Decode.OutputTokensPerSecondPerRank, 6);

        // $2 per GPU-hour over the output rate: 2 / 3600 / rate x 1e6 dollars per million tokens.
        Assert.Equal(2.0 / 3600 / r.Decode.OutputTokensPerSecondPerRank * 1e6, r.UsdPerMillionOutputTokens!.Value, 9);
    }

    [Fact]
    public void Overlap_never_costs_time_and_perfect_balance_never_costs_time()
    {
        var plan = PlanCompiler.Compile("plans/calibration/sglang-h100-prefill-in2k.moe",
            MemorySourceResolver.FromRepository("plans/calibration/sglang-h100-prefill-in2k.moe")).Plan!;
        var overlapped = PlanCostModel.Evaluate(plan).Prefill.Step;
        var serial = PlanCostModel.Evaluate(plan with { Prefill = plan.Prefill with { MicrobatchOverlap = plan.Prefill.MicrobatchOverlap with { Value = false } } }).Prefill.Step;
        Assert.Equal(serial.ComputeMilliseconds + serial.CommunicationMilliseconds, serial.StepMilliseconds, 9);
        Assert.True(overlapped.StepMilliseconds < serial.StepMilliseconds);
        Assert.True(PlanCostModel.Evaluate(plan, new CostOptions(PerfectBalance: true)).Prefill.Step.StepMilliseconds < overlapped.StepMilliseconds);
    }
}
