using MoePlan.Core.Catalog;
using MoePlan.Core.Compilation;
using MoePlan.Core.Plan;
using MoePlan.Tests.Support;
using Xunit;

namespace MoePlan.Core.Tests.Verification;

public sealed class MemoryModelTests
{
    [Fact]
    public void Mla_kv_cache_stores_the_latent_and_rope_key_once_per_token()
    {
        var v3 = EmbeddedCatalog.Instance.FindModel("deepseek-v3")!.Architecture;

        // (kv_lora_rank 512 + qk_rope_head_dim 64) x 61 layers x 2 bytes = 70,272; + the MTP layer: x 62 = 71,424.
        Assert.Equal(70_272, MemoryModel.KvBytesPerToken(v3, NumericFormat.Bf16, tensorParallel: 1, withMtp: false));
        Assert.Equal(71_424, MemoryModel.KvBytesPerToken(v3, NumericFormat.Bf16, tensorParallel: 8, withMtp: true));
        Assert.Equal(35_136, MemoryModel.KvBytesPerToken(v3, NumericFormat.Fp8, tensorParallel: 1, withMtp: false));
    }

    [Fact]
    public void Gqa_kv_cache_splits_kv_heads_over_tp_then_replicates()
    {
        var qwen = EmbeddedCatalog.Instance.FindModel("qwen3-235b-a22b")!.Architecture;

        // K and V: 2 x 4 KV heads x 128 x 94 layers x 2 bytes = 192,512 at TP1; TP2 halves it;
        // at TP8 each rank keeps one KV head (TP > KV heads replicates): 48,128.
        Assert.Equal(192_512, MemoryModel.KvBytesPerToken(qwen, NumericFormat.Bf16, 1, false));
        Assert.Equal(96_256, MemoryModel.KvBytesPerToken(qwen, NumericFormat.Bf16, 2, false));
        Assert.Equal(48_128, MemoryModel.KvBytesPerToken(qwen, NumericFormat.Bf16, 8, false));
    }

    [Fact]
    public void Deepseek_production_decode_rank_holds_two_routed_experts_and_its_kv()
    {
        var resolver = MemorySourceResolver.FromRepository("plans/deepseek-v3-h800.moe", "plans/common/slo.moe");
        var plan = PlanCompiler.Compile("plans/deepseek-v3-h800.moe", resolver).Plan!;
        var m = MemoryModel.Compute(plan, plan.Decode);

        // KV: 88 sequences per GPU (DP144 over 144 GPUs) x 6144 tokens x 70,272 bytes (bf16, no MTP).
        Assert.Equal(88.0 * 6144 * 70_272, m.KvCacheBytes, 1);

        // Routed experts alone: (256 + 32) / 144 = 2 per GPU x 58 MoE layers x 3 x 7168 x 2048 x 1 byte (fp8)
        // = 5,108,662,272 bytes; the rest (attention 11.4 GB fp8, shared experts, dense layers, bf16 embedding
        // and head) lands between 20 and 30 GB in all for DeepSeek-V3 by the parameter table of figures.md.
        Assert.InRange(m.WeightBytes, 5_108_662_272 + 15e9, 5_108_662_272 + 25e9);
        Assert.Equal(80e9, m.CapacityBytes);
        Assert.Equal(72e9, m.UsableBytes, 1);
        Assert.True(m.Fits);
    }
}
