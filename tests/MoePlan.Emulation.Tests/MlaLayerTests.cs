using MoePlan.Emulation.Moe;

namespace MoePlan.Emulation.Tests;

public class MlaLayerTests
{
    [Theory]
    [InlineData(16, MoeFormat.Bf16)]  // low-rank queries (DeepSeek), bf16 cache
    [InlineData(0, MoeFormat.Int8)]   // full-rank queries, int8 cache
    public void Prefill_and_absorbed_decode_match_the_fp64_reference(int qLora, MoeFormat cache)
    {
        var config = new MlaConfig(Hidden: 64, Heads: 4, QLoraRank: qLora, KvLoraRank: 32, NopeDim: 16, RopeDim: 8, VDim: 16,
            Activations: MoeFormat.Bf16, KvCache: cache);
        var layer = new MlaLayer(config, seed: 3);
        var result = layer.Run(Inputs.Normal(12 * 64, 4));
        Assert.InRange(result.PrefillRelError, 1e-7, result.Tolerance);
        Assert.InRange(result.DecodeRelError, 1e-7, result.Tolerance);
        // The absorbed decode of the last token and the non-absorbed prefill's last row are the same
        // function: they differ only by roundings (each within tolerance of the reference).
        var prefillLast = result.Prefill.AsSpan(11 * 64, 64).ToArray();
        double diff = Math.Sqrt(prefillLast.Zip(result.Decode, (a, b) => (double)(a - b) * (a - b)).Sum());
        double norm = Math.Sqrt(prefillLast.Sum(a => (double)a * a));
        Assert.True(diff / norm <= 2 * result.Tolerance, $"{diff / norm} > {2 * result.Tolerance}");
    }

    [Fact]
    public void Fp32_activations_and_cache_are_far_more_accurate_than_bf16()
    {
        var bf16 = new MlaLayer(new MlaConfig(32, 2, 8, 16, 8, 4, 8, MoeFormat.Bf16, MoeFormat.Bf16), 5).Run(Inputs.Normal(6 * 32, 6));
        var fp32 = new MlaLayer(new MlaConfig(32, 2, 8, 16, 8, 4, 8, MoeFormat.Fp32, MoeFormat.Fp32), 5).Run(Inputs.Normal(6 * 32, 6));
        Assert.True(fp32.PrefillRelError < bf16.PrefillRelError / 100, $"{fp32.PrefillRelError} vs {bf16.PrefillRelError}");
        Assert.InRange(fp32.PrefillRelError, 0, fp32.Tolerance);
    }
}
