using MoePlan.Core.Catalog;
using MoePlan.Core.Compilation;
using MoePlan.Core.Cost;
using MoePlan.Core.Plan;
using MoePlan.Tests.Support;
using Xunit;

namespace MoePlan.Core.Tests.Serving;

/// <summary>The mixed step of aggregated serving (docs/cost-model.md#aggregated-serving), checked by hand.</summary>
public sealed class AggregatedCostTests
{
    // Qwen3-235B, TP8/EP8 on one H200 node; 16 sequences and a 1024-token budget per GPU; prompts lognormal with mean
    // 2048 and sd 1024, outputs 512.
    private const string Plan = """
        deployment "agg" {
          engine vllm
          model qwen3-235b-a22b
          hardware h200
          cluster { nodes 1  devices_per_node 8 }
          serve {
            instances 1
            parallel { tp 8  ep 8 }
            max_batch 16 per device
            context 8192
            max_batch_tokens 1024 per device
          }
          workload {
            arrivals poisson 1/s
            input lognormal { mean 2048  sd 1024 }
            output fixed 512
          }
        }
        """;

    private static DeploymentPlan Compile() =>
        PlanCompiler.CompileText("agg.moe", Plan, new MemorySourceResolver(new Dictionary<string, string>())).Plan!;

    [Fact]
    public void The_step_carries_the_decode_batch_and_the_chunk_that_keeps_it_full()
    {
        var report = PlanCostModel.Evaluate(Compile());
        var serve = report.Serve!;

        // Per data-parallel rank (dp 1 over 8 GPUs): budget 1024 x 8 = 8192 tokens; decode 16 x 8 = 128 sequences,
        // 1 token each; the full chunk is 8192 - 128 = 8064. Saturated, 128 sequences finish 128 / 512 requests per
        // step, whose prompts (2048 computed tokens each, no prefix share) need 128 / 512 x 2048 = 512 tokens per step.
        Assert.Equal(128, serve.DecodeTokensPerRank, 9);
        Assert.Equal(8064, serve.FullChunkTokensPerRank, 9);
        Assert.Equal(512, serve.ChunkTokensPerRank, 9);
        // A 2048-token prompt fits one full chunk: ceil(2048 / 8064) = 1 step.
        Assert.Equal(1, serve.StepsToFirstToken);
        Assert.Equal(128 + 512, serve.Step.TokensPerRank, 9);
        Assert.Equal(128 + 8064, serve.FullChunkStep.TokensPerRank, 9);

        // TTFT: half a balanced step of waiting, then the one full-chunk step; TPOT: the balanced step (no MTP); no KV moves.
        Assert.Equal((0.5 * serve.Step.StepMilliseconds) + serve.FullChunkStep.StepMilliseconds, report.Prefill.TtftMilliseconds, 9);
        Assert.Equal(serve.Step.StepMilliseconds, report.Decode.TpotMilliseconds, 9);
        Assert.Equal(0, report.Prefill.KvTransferMilliseconds);

        // Output per GPU: 128 sequences / TP 8 = 16 tokens per step per GPU; the deployment's 8 GPUs decode
        // 8 x 16 / step / 512 requests per second.
        var stepSeconds = serve.Step.StepMilliseconds / 1e3;
        Assert.Equal(16 / stepSeconds, report.Decode.OutputTokensPerSecondPerRank, 6);
        Assert.Equal(8 * 16 / stepSeconds / 512, report.DecodeCapacityRequestsPerSecond, 6);
        // Prompts: 8064 tokens per full-chunk step / TP 8 per GPU, 8 GPUs, 2048 tokens each.
        Assert.Equal(8 * (8064.0 / 8) / (serve.FullChunkStep.StepMilliseconds / 1e3) / 2048, report.PrefillCapacityRequestsPerSecond, 6);
    }

    [Fact]
    public void The_chunk_attends_in_the_prefill_form_over_its_own_context()
    {
        var plan = Compile();
        var report = PlanCostModel.Evaluate(plan);
        var full = report.Serve!.FullChunkStep;
        var machine = PlanCostModel.Machine(plan);

        // GQA attention core, both forms: 4 x heads / TP x head_dim FLOPs per token per unit of context
        // = 4 x 64 / 8 x 128 = 4096. Decode tokens attend to prompt + output / 2 = 2048 + 256 = 2304; the chunk's
        // tokens to half their own prompt, token-weighted: E[L^2] / E[L] / 2 = (2048^2 + 1024^2) / 2048 / 2 = 1280.
        // 94 layers x 4096 x 128 x 2304 FLOPs in the decode form at the BF16 peak x 0.667 (FlashMLA's figure), and
        // 94 layers x 4096 x 8064 x 1280 in the prefill form at the BF16 peak x 0.368 (Hopper's fitted prefill figure).
        var decodeFlops = 94.0 * 4096 * 128 * 2304;
        var chunkFlops = 94.0 * 4096 * 8064 * 1280;
        Assert.Equal(0.667, machine.Efficiency.AttentionEfficiency);
        Assert.Equal(0.368, machine.Efficiency.PrefillAttentionEfficiency);
        var expectedMilliseconds = ((decodeFlops / 0.667) + (chunkFlops / 0.368)) / machine.PeakBf16Flops * 1e3;
        var core = full.Ops.Single(o => o.Name == "attention core");
        Assert.Equal(expectedMilliseconds, core.ComputeMilliseconds, 6);
    }

    [Fact]
    public void A_mixed_step_reads_the_weights_once_so_it_costs_less_than_its_two_halves_apart()
    {
        var plan = Compile();
        var report = PlanCostModel.Evaluate(plan);
        var a = plan.Model.Entry.Architecture;
        var p = ParameterCounter.Count(a);
        var machine = PlanCostModel.Machine(plan);
        var full = report.Serve!.FullChunkStep;
        StepCost Evaluate(StepShape shape) => StepCostModel.Evaluate(a, p, plan.Precision, shape, machine);

        var decodeOnly = Evaluate(new StepShape(PoolRole.Decode, 128, 128, 2304, 8, 1, 8, 128, PlanCostModel.DefaultStaticImbalance, false, 0));
        var prefillOnly = Evaluate(new StepShape(PoolRole.Prefill, 8064, 8064.0 / 2048, 1280, 8, 1, 8, 128, PlanCostModel.DefaultStaticImbalance, false, 0));
        Assert.InRange(full.StepMilliseconds, Math.Max(decodeOnly.StepMilliseconds, prefillOnly.StepMilliseconds), decodeOnly.StepMilliseconds + prefillOnly.StepMilliseconds);

        // No chunk: the decode step as before, to the last op.
        var noChunk = Evaluate(new StepShape(PoolRole.Decode, 128, 128, 2304, 8, 1, 8, 128, PlanCostModel.DefaultStaticImbalance, false, 0, ChunkTokensPerRank: 0));
        Assert.Equal(decodeOnly.Ops.ToArray(), noChunk.Ops.ToArray());
    }
}
