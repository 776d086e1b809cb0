using MoePlan.Core.Catalog;
using Xunit;

namespace MoePlan.Core.Tests.Catalog;

public sealed class ParameterCounterTests
{
    private static ParameterBreakdown CountOf(string model) =>
        ParameterCounter.Count(EmbeddedCatalog.Instance.FindModel(model)!.Architecture);

    /// <summary>
    /// DeepSeek-V3 by hand (config.json: hidden h = 7168, vocab 129280, 61 layers of which 3 dense, 128
    /// heads, q_lora 1536, kv_lora 512, nope 128, rope 64, v 128, intermediate 18432, moe 2048, 256 routed
    /// + 1 shared experts, top-8, sigmoid/noaux_tc router, 1 MTP layer, untied embeddings):
    /// <code>
    /// embedding            129280 x 7168                       =     926,679,040
    /// lm_head              same                                =     926,679,040
    /// q_a_proj             7168 x 1536                         =      11,010,048
    /// q_a_layernorm        1536                                =           1,536
    /// q_b_proj             1536 x 128 x (128 + 64)             =      37,748,736
    /// kv_a_proj_with_mqa   7168 x (512 + 64)                   =       4,128,768
    /// kv_a_layernorm       512                                 =             512
    /// kv_b_proj            512 x 128 x (128 + 128)             =      16,777,216
    /// o_proj               128 x 128 x 7168                    =     117,440,512
    ///   head-sharded  q_b + kv_b + o                           =     171,966,464
    ///   replicated    q_a + q_a_ln + kv_a + kv_a_ln            =      15,140,864
    ///   attention per layer                                    =     187,107,328
    /// norms per layer      2 x 7168                            =          14,336
    /// dense FFN            3 x 7168 x 18432                    =     396,361,728
    /// one routed expert    3 x 7168 x 2048                     =      44,040,192
    /// shared expert        1 x 3 x 7168 x 2048                 =      44,040,192
    /// router               256 x 7168 + 256 (bias)             =       1,835,264
    /// dense layer          187,107,328 + 14,336 + 396,361,728  =     583,483,392
    /// MoE layer            187,107,328 + 14,336 + 256 x 44,040,192 (11,274,289,152)
    ///                      + 44,040,192 + 1,835,264            =  11,507,286,272
    /// main model           2 x 926,679,040 + 3 x 583,483,392 + 58 x 11,507,286,272 + 7168 (final norm)
    ///                                                          = 671,026,419,200
    /// MTP module           11,507,286,272 + 2 x 7168 (enorm, hnorm) + 2 x 7168 x 7168 (102,760,448)
    ///                      + 7168 (final norm)                 =  11,610,068,224
    /// active MoE layer     187,107,328 + 14,336 + 8 x 44,040,192 + 44,040,192 + 1,835,264
    ///                                                          =     585,318,656
    /// active               2 x 926,679,040 + 3 x 583,483,392 + 58 x 585,318,656 + 7168
    ///                                                          =  37,552,297,472
    /// </code>
    /// figures.md: "671.0B main model + 11.6B MTP module; 37.6B active".
    /// </summary>
    [Fact]
    public void DeepSeekV3MatchesTheHandDerivation()
    {
        var p = CountOf("deepseek-v3");
        Assert.Equal(926_679_040L, p.EmbeddingParameters);
        Assert.Equal(926_679_040L, p.LmHeadParameters);
        Assert.Equal(171_966_464L, p.AttentionHeadShardedParametersPerLayer);
        Assert.Equal(15_140_864L, p.AttentionReplicatedParametersPerLayer);
        Assert.Equal(187_107_328L, p.AttentionParametersPerLayer);
        Assert.Equal(14_336L, p.NormParametersPerLayer);
        Assert.Equal(396_361_728L, p.DenseFfnParametersPerLayer);
        Assert.Equal(44_040_192L, p.ExpertParameters);
        Assert.Equal(44_040_192L, p.SharedExpertParametersPerLayer);
        Assert.Equal(1_835_264L, p.RouterParametersPerLayer);
        Assert.Equal(671_026_419_200L, p.MainModelParameters);
        Assert.Equal(11_610_068_224L, p.MtpModuleParameters);
        Assert.Equal(37_552_297_472L, p.ActiveParameters);
        Assert.Equal(671_026_419_200L + 11_610_068_224L, p.TotalParameters);
    }

    [Fact]
    public void DeepSeekR1CountsLikeV3()
    {
        // tests/data/SOURCES.md: identical architecture (only transformers_version differs).
        Assert.Equal(CountOf("deepseek-v3"), CountOf("deepseek-r1"));
    }

    /// <summary>
    /// Kimi-K2 by hand (config.json: as DeepSeek-V3 but 64 heads, 384 experts, 1 dense layer, vocab 163840, no MTP):
    /// <code>
    /// embedding = lm_head  163840 x 7168                       =   1,174,405,120
    /// q_b 1536 x 64 x 192 = 18,874,368; kv_b 512 x 64 x 256 = 8,388,608; o 64 x 128 x 7168 = 58,720,256
    ///   head-sharded                                           =      85,983,232
    ///   replicated (as DeepSeek-V3, independent of heads)      =      15,140,864
    /// router               384 x 7168 + 384                    =       2,752,896
    /// dense layer          101,124,096 + 14,336 + 396,361,728  =     497,500,160
    /// MoE layer            101,124,096 + 14,336 + 384 x 44,040,192 (16,911,433,728) + 44,040,192 + 2,752,896
    ///                                                          =  17,059,365,248
    /// main                 2 x 1,174,405,120 + 497,500,160 + 60 x 17,059,365,248 + 7168
    ///                                                          = 1,026,408,232,448
    /// active MoE layer     101,124,096 + 14,336 + 9 x 44,040,192 + 2,752,896 = 500,253,056
    /// active               2 x 1,174,405,120 + 497,500,160 + 60 x 500,253,056 + 7168 = 32,861,500,928
    /// </code>
    /// </summary>
    [Fact]
    public void KimiK2MatchesTheHandDerivation()
    {
        var p = CountOf("kimi-k2");
        Assert.Equal(85_983_232L, p.AttentionHeadShardedParametersPerLayer);
        Assert.Equal(15_140_864L, p.AttentionReplicatedParametersPerLayer);
        Assert.Equal(2_752_896L, p.RouterParametersPerLayer);
        Assert.Equal(1_026_408_232_448L, p.MainModelParameters);
        Assert.Equal(0L, p.MtpModuleParameters);
        Assert.Equal(32_861_500_928L, p.ActiveParameters);
    }

    /// <summary>
    /// Published totals (figures.md) are main-model counts (without MTP) and carry two to four significant
    /// figures, so a 1% tolerance covers their rounding; the derivation must land inside it.
    /// </summary>
    [Theory]
    [InlineData("deepseek-v3", 671.0)]            // DeepSeek-V3 paper; figures.md "671.0B main model"
    [InlineData("deepseek-r1", 671.0)]
    [InlineData("openpangu-ultra-moe-718b", 718.0)] // model card: 718B
    [InlineData("qwen3-235b-a22b", 235.0)]         // model name / card: 235B
    [InlineData("qwen1.5-moe-a2.7b", 14.3)]        // model card: 14.3B
    public void MainModelMatchesPublishedTotalWithinOnePercent(string model, double publishedBillions)
    {
        var derived = CountOf(model).MainModelParameters / 1e9;
        Assert.InRange(derived, publishedBillions * 0.99, publishedBillions * 1.01);
    }

    [Fact]
    public void DeepSeekV3MtpModuleMatchesFiguresMd()
    {
        // figures.md: "11.6B MTP module" (three significant figures): within 1%.
        var mtp = CountOf("deepseek-v3").MtpModuleParameters / 1e9;
        Assert.InRange(mtp, 11.6 * 0.99, 11.6 * 1.01);
    }

    [Fact]
    public void KimiK2TotalIsConsistentWithARoundedOneTrillion()
    {
        // The README's "1 trillion total parameters" is rounded to ONE significant figure: any count in
        // [0.95e12, 1.5e12) rounds to 1e12, so that interval is the only tolerance the published figure
        // supports (a 1% check against 1e12 would be a fake precision). The tight check is the hand
        // derivation in KimiK2MatchesTheHandDerivation.
        var total = (double)CountOf("kimi-k2").TotalParameters;
        Assert.InRange(total, 0.95e12, 1.5e12 - 1);
    }

    /// <summary>
    /// Active parameters. Convention (ParameterBreakdown.ActiveParameters): everything one token touches in
    /// the main model, counting the whole input embedding table and the LM head, without MTP. Publishers
    /// round to two significant figures ("37B", "2.7B") and differ on whether the input embedding (a lookup,
    /// not a matmul) counts. Tolerance: the published figure, widened by half a unit of its last digit
    /// (0.5B for "37B", 0.05B for "2.7B"), must overlap [Active - Embedding, Active].
    /// </summary>
    [Theory]
    [InlineData("deepseek-v3", 37.0, 0.5)]
    [InlineData("deepseek-r1", 37.0, 0.5)]
    [InlineData("openpangu-ultra-moe-718b", 39.0, 0.5)]
    [InlineData("kimi-k2", 32.0, 0.5)]
    [InlineData("qwen3-235b-a22b", 22.0, 0.5)]
    [InlineData("qwen1.5-moe-a2.7b", 2.7, 0.05)]
    public void ActiveParametersMatchPublishedUnderTheStatedConvention(string model, double publishedBillions, double halfUnit)
    {
        var p = CountOf(model);
        var withEmbedding = p.ActiveParameters / 1e9;
        var withoutEmbedding = (p.ActiveParameters - p.EmbeddingParameters) / 1e9;
        Assert.True(
            publishedBillions - halfUnit <= withEmbedding && withoutEmbedding <= publishedBillions + halfUnit,
            $"{model}: derived active {withoutEmbedding:F2}B..{withEmbedding:F2}B does not overlap published {publishedBillions}B +/- {halfUnit}B");
    }

    [Fact]
    public void DeepSeekV3ActiveMatchesFiguresMdDerivedFigure()
    {
        // figures.md: "37.6B active" (derived, embedding included): within half a unit of its last digit.
        Assert.InRange(CountOf("deepseek-v3").ActiveParameters / 1e9, 37.55, 37.65);
    }

    /// <summary>
    /// Qwen3-235B-A22B attention and router by hand (hidden 4096, 64 q heads, 4 kv heads, head_dim 128, no
    /// bias, q/k norm; 128 experts, softmax router without bias):
    /// q 4096 x 8192 = 33,554,432; k = v = 4096 x 512 = 2,097,152; o 8192 x 4096 = 33,554,432;
    /// sharded = 71,303,168; replicated (q_norm + k_norm) = 2 x 128 = 256; router 128 x 4096 = 524,288;
    /// expert 3 x 4096 x 1536 = 18,874,368; no shared expert.
    /// </summary>
    [Fact]
    public void Qwen3GroupedQueryAttentionMatchesTheHandDerivation()
    {
        var p = CountOf("qwen3-235b-a22b");
        Assert.Equal(71_303_168L, p.AttentionHeadShardedParametersPerLayer);
        Assert.Equal(256L, p.AttentionReplicatedParametersPerLayer);
        Assert.Equal(524_288L, p.RouterParametersPerLayer);
        Assert.Equal(18_874_368L, p.ExpertParameters);
        Assert.Equal(0L, p.SharedExpertParametersPerLayer);
    }

    /// <summary>
    /// Qwen1.5-MoE-A2.7B by hand (hidden 2048, MHA 16 x 128 with q/k/v bias; shared expert 5632 wide with a
    /// hidden x 1 sigmoid gate; 60 experts of 1408):
    /// attention 4 x 2048 x 2048 + 3 x 2048 (biases) = 16,783,360; shared 3 x 2048 x 5632 + 2048 = 34,605,056;
    /// expert 3 x 2048 x 1408 = 8,650,752; router 60 x 2048 = 122,880.
    /// </summary>
    [Fact]
    public void Qwen15MoeSharedExpertGateAndBiasesAreCounted()
    {
        var p = CountOf("qwen1.5-moe-a2.7b");
        Assert.Equal(16_783_360L, p.AttentionHeadShardedParametersPerLayer);
        Assert.Equal(0L, p.AttentionReplicatedParametersPerLayer);
        Assert.Equal(34_605_056L, p.SharedExpertParametersPerLayer);
        Assert.Equal(8_650_752L, p.ExpertParameters);
        Assert.Equal(122_880L, p.RouterParametersPerLayer);
    }

    /// <summary>
    /// A tiny MLA without low-rank queries, tied embeddings, sandwich norm, by hand: hidden 16, 2 heads, nope 4,
    /// rope 2, v 4, kv_lora 8, vocab 10, 2 layers (1 dense of width 32), 4 experts of 8, top-2, no shared,
    /// softmax router. q_proj 16 x 2 x 6 = 192; kv_b 8 x 2 x 8 = 128; o 2 x 4 x 16 = 128 -> sharded 448;
    /// kv_a 16 x 10 + 8 = 168 replicated. Norms 4 x 16 = 64. Dense FFN 3 x 16 x 32 = 1536; expert 3 x 16 x 8 = 384;
    /// router 4 x 16 = 64. Embedding 160, head 0 (tied).
    /// main = 160 + (616 + 64 + 1536) + (616 + 64 + 4 x 384 + 64) + 16 = 160 + 2216 + 2280 + 16 = 4672.
    /// active = 160 + 2216 + (616 + 64 + 2 x 384 + 64) + 16 = 160 + 2216 + 1512 + 16 = 3904.
    /// </summary>
    [Fact]
    public void FullRankQueriesTiedEmbeddingsAndSandwichNorm()
    {
        var a = new ModelArchitecture(2, 16, 32, 8, 4, 0, 0, 2, 1, 1, 1, new MlaAttention(2, 0, 8, 4, 2, 4), 10, 0, true, 1.0, "softmax")
        {
            SandwichNorm = true,
        };
        var p = ParameterCounter.Count(a);
        Assert.Equal(160L, p.EmbeddingParameters);
        Assert.Equal(0L, p.LmHeadParameters);
        Assert.Equal(448L, p.AttentionHeadShardedParametersPerLayer);
        Assert.Equal(168L, p.AttentionReplicatedParametersPerLayer);
        Assert.Equal(64L, p.NormParametersPerLayer);
        Assert.Equal(64L, p.RouterParametersPerLayer);
        Assert.Equal(4672L, p.MainModelParameters);
        Assert.Equal(3904L, p.ActiveParameters);
        Assert.Equal(0L, p.MtpModuleParameters);
    }
}
