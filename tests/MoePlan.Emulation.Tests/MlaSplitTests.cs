using MoePlan.Emulation.Emulator;
using MoePlan.Emulation.Kernels;

namespace MoePlan.Emulation.Tests;

/// <summary>Flash-decoding split-K across AI cores with the log-sum-exp combine.</summary>
public class MlaSplitTests
{
    public static TheoryData<AttentionVariant, int> Cases => new()
    {
        { AttentionVariant.Standard, 2 },
        { AttentionVariant.Amla, 2 },
        { AttentionVariant.Standard, 4 },
        { AttentionVariant.Amla, 4 },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Split_combine_equals_the_unsplit_result_within_the_derived_bounds(AttentionVariant variant, int splits)
    {
        // 16 heads, KV 450 (4 blocks of 128, the last partial), 2 sequences. Scores grow across the KV
        // range, so later splits carry more weight and AMLA rescales inside splits too.
        const int heads = 16, kvLen = 450;
        var kv = Inputs.KvWithScores(kvLen, 11, MlaDims.DeepSeekSoftmaxScale, t => 0.005 * t)
            .Concat(Inputs.Normal(kvLen * MlaDims.QkDim, 12)).ToArray();
        var q = Inputs.Normal(2 * heads * MlaDims.QkDim, 13, scale: 0.5);
        var inputs = new MlaDecodeInputs(2, heads, kvLen, q, kv, MlaDims.DeepSeekSoftmaxScale);
        var reference = MlaReference.Compute(inputs);
        var tiling = MlaTiling.For(DeviceSpec.Ascend910Die, heads);
        var (resolved, rowsPerSplit) = MlaDecodeKernel.ResolveKvSplits(DeviceSpec.Ascend910Die, tiling, heads, 2, kvLen, splits);
        Assert.Equal(splits, resolved);
        Assert.Equal(4 / splits * 128, rowsPerSplit);

        var (unsplit, _) = Inputs.Run(inputs, variant);
        var (split, device) = Inputs.Run(inputs, variant, kvSplits: splits);
        var unsplitBound = new MlaErrorBounds(inputs, reference, variant, tiling.BlockKv);
        var splitBound = new MlaErrorBounds(inputs, reference, variant, tiling.BlockKv, rowsPerSplit);
        unsplitBound.AssertWithin(unsplit, reference, "unsplit");
        splitBound.AssertWithin(split, reference, "split");
        for (int i = 0; i < reference.Length; i++)
        {
            // Triangle inequality through the FP64 reference.
            double bound = unsplitBound.Elementwise[i] + splitBound.Elementwise[i];
            Assert.True(Math.Abs(split[i] - unsplit[i]) <= bound, $"element {i}: |{split[i]} - {unsplit[i]}| > {bound}");
        }

        // 2 sequences x splits attention items + one 16-row combine slice per sequence, round-robin over 24 cores.
        Assert.Equal(2 * splits + 2, device.ActiveCores.Count());
    }

    [Fact]
    public void A_split_that_sees_only_masked_scores_gets_zero_weight_and_an_all_masked_row_is_nan()
    {
        // Rows score -Inf on the first 128 KV rows (split 0 of 2 sees nothing): the result equals
        // attention over the second split alone. All-(-Inf) everywhere gives NaN like the unsplit kernel.
        const int heads = 8, kvLen = 256;
        var kv = Inputs.KvWithScores(kvLen, 5, MlaDims.DeepSeekSoftmaxScale, t => t < 128 ? double.NegativeInfinity : 0.01 * (t % 17));
        var inputs = new MlaDecodeInputs(1, heads, kvLen, Inputs.RopeSelectorQuery(heads), kv, MlaDims.DeepSeekSoftmaxScale);
        var reference = MlaReference.Compute(inputs);
        foreach (var variant in new[] { AttentionVariant.Standard, AttentionVariant.Amla })
        {
            var (split, _) = Inputs.Run(inputs, variant, kvSplits: 2);
            new MlaErrorBounds(inputs, reference, variant, 128, 128).AssertWithin(split, reference, variant.ToString());
        }

        var masked = Inputs.KvWithScores(kvLen, 5, MlaDims.DeepSeekSoftmaxScale, _ => double.NegativeInfinity);
        var all = new MlaDecodeInputs(1, heads, kvLen, Inputs.RopeSelectorQuery(heads), masked, MlaDims.DeepSeekSoftmaxScale);
        foreach (var variant in new[] { AttentionVariant.Standard, AttentionVariant.Amla })
        {
            Assert.All(Inputs.Run(all, variant, kvSplits: 2).Output, x => Assert.True(float.IsNaN(x)));
        }
    }

    [Theory]
    [InlineData(24, 1, 13, 13)]  // 1 item, 13 blocks: one block per split on 13 cores, 3 steps
    [InlineData(24, 1, 400, 24)] // long KV: every core
    [InlineData(24, 24, 50, 1)]  // as many items as cores: no split
    [InlineData(24, 16, 50, 3)]  // s = 1: 1 x 52; 2: 2 waves x 27 = 54; 3: 2 x 19 = 38; 4: 3 x 15 = 45; 6: 4 x 11 = 44
    [InlineData(24, 12, 50, 2)]  // s = 2: 1 wave x 27
    public void Split_count_minimises_the_estimated_steps(int cores, int items, int blocks, int expected) =>
        Assert.Equal(expected, MlaDecodeKernel.ChooseKvSplits(cores, items, blocks));
}
