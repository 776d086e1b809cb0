using MoePlan.Emulation.Emulator;
using MoePlan.Emulation.Kernels;

namespace MoePlan.Emulation.Tests;

/// <summary>
/// The hazards of amla.md, each with its defined behaviour (see <see cref="MlaDecodeKernel"/>):
/// zero and subnormal O entries, subnormal scores, underflowing exp and very negative rescale
/// shifts, NaN and Inf inputs. Scores are steered through the rope column: with
/// <see cref="Inputs.RopeSelectorQuery"/> every head's score of row t is scale * kv[t][512].
/// </summary>
public class MlaHazardTests
{
    private const int Heads = 8;
    private static readonly float Scale = MlaDims.DeepSeekSoftmaxScale;
    private static readonly int BlockKv = MlaTiling.For(DeviceSpec.Ascend910Die, Heads).BlockKv; // 128

    public static TheoryData<AttentionVariant> Variants => new() { AttentionVariant.Standard, AttentionVariant.Amla };

    private static MlaDecodeInputs Make(float[] q, float[] kv, int kvLen) => new(1, Heads, kvLen, q, kv, Scale);

    /// <summary>Scores that grow by 3 per KV block: every row's AMLA exponent n = ceil(max s log2 e)
    /// grows by 4 or 5 at every block, so every block rescales every row.</summary>
    private static double Growing(int t) => 3.0 * (t / BlockKv) + 0.01 * (t % 13);

    private static (float[] Output, double[] Reference, MlaErrorBounds Bounds, Device Device) RunChecked(MlaDecodeInputs inputs, AttentionVariant variant)
    {
        var reference = MlaReference.Compute(inputs);
        var (output, device) = Inputs.Run(inputs, variant);
        var bounds = new MlaErrorBounds(inputs, reference, variant, BlockKv);
        bounds.AssertWithin(output, reference, variant.ToString());
        return (output, reference, bounds, device);
    }

    [Theory]
    [MemberData(nameof(Variants))]
    public void All_zero_kv_gives_exact_zero_output(AttentionVariant variant)
    {
        var inputs = Make(Inputs.Normal(Heads * MlaDims.QkDim, 1), new float[300 * MlaDims.QkDim], 300);
        var (output, _) = Inputs.Run(inputs, variant);
        Assert.All(output, x => Assert.Equal(0u, BitConverter.SingleToUInt32Bits(x)));
    }

    [Theory]
    [MemberData(nameof(Variants))]
    public void Zero_output_entries_stay_zero_through_rescales(AttentionVariant variant)
    {
        // V columns 0..255 are zero, so those O entries are +0 when AMLA adds -n << 23 to their bits.
        int kvLen = 3 * BlockKv + 20;
        var kv = Inputs.KvWithScores(kvLen, 2, Scale, Growing);
        for (int t = 0; t < kvLen; t++)
        {
            Array.Clear(kv, t * MlaDims.QkDim, 256);
        }

        var (output, _, _, _) = RunChecked(Make(Inputs.RopeSelectorQuery(Heads), kv, kvLen), variant);
        for (int h = 0; h < Heads; h++)
        {
            for (int c = 0; c < 256; c++)
            {
                Assert.Equal(0u, BitConverter.SingleToUInt32Bits(output[h * MlaDims.VDim + c]));
            }
        }
    }

    [Theory]
    [MemberData(nameof(Variants))]
    public void Subnormal_output_entries_never_become_garbage(AttentionVariant variant)
    {
        // V columns 0..63 hold the subnormal 1e-40: the true output there is that value (a weighted
        // mean of equal values) and every partial O entry is subnormal. Scores grow by 0.7 per block,
        // so n grows by 1 at every block and every row is rescaled while earlier blocks still carry
        // most of the weight. Standard keeps gradual underflow (within its bound); AMLA flushes the
        // subnormal entries to zero at each rescale, so only the last block survives: its output there
        // is in [0, v], never negative, NaN or huge, and visibly below the reference.
        int kvLen = 3 * BlockKv + 20;
        var kv = Inputs.KvWithScores(kvLen, 3, Scale, t => 0.7 * (t / BlockKv) + 0.01 * (t % 13));
        for (int t = 0; t < kvLen; t++)
        {
            Array.Fill(kv, 1e-40f, t * MlaDims.QkDim, 64);
        }

        var inputs = Make(Inputs.RopeSelectorQuery(Heads), kv, kvLen);
        float sub = inputs.KvCache[0];
        Assert.True(float.IsSubnormal(sub));
        var (output, reference, _, _) = RunChecked(inputs, variant);
        bool flushed = false;
        for (int h = 0; h < Heads; h++)
        {
            for (int c = 0; c < 64; c++)
            {
                float x = output[h * MlaDims.VDim + c];
                Assert.InRange(x, 0f, sub * 1.01f);
                flushed |= x < 0.5 * reference[h * MlaDims.VDim + c];
            }
        }

        Assert.Equal(variant == AttentionVariant.Amla, flushed);
    }

    [Theory]
    [MemberData(nameof(Variants))]
    public void Subnormal_scores_give_the_uniform_average(AttentionVariant variant)
    {
        // Query entries +-1e-39 (BF16 subnormals) make every score subnormal: softmax is uniform up to
        // roundoff; AMLA's n = ceil(tiny) is 0 or 1 and P = 2^(t - n) is exactly representable.
        int kvLen = 2 * BlockKv + 7;
        var q = Inputs.Normal(Heads * MlaDims.QkDim, 4).Select(x => x < 0 ? -1e-39f : 1e-39f).ToArray();
        var inputs = Make(q, Inputs.Normal(kvLen * MlaDims.QkDim, 5), kvLen);
        var (output, _, _, _) = RunChecked(inputs, variant);
        for (int c = 0; c < MlaDims.VDim; c += 37)
        {
            double mean = 0;
            for (int t = 0; t < kvLen; t++)
            {
                mean += inputs.KvCache[t * MlaDims.QkDim + c] / (double)kvLen;
            }

            Assert.Equal(mean, output[c], 1e-5);
        }
    }

    [Theory]
    [MemberData(nameof(Variants))]
    public void Very_negative_scores_underflow_to_zero_weight(AttentionVariant variant)
    {
        // Block 0 scores about -1000, later blocks about +1000: the first block's weights are
        // exp(-2000) = 0, AMLA's shift is about -2885 (flush, never a wrapped exponent), and inside the
        // later blocks rows 20 apart in score (t % 3 == 0 at -20 relative) are tiny but present.
        int kvLen = 3 * BlockKv;
        var kv = Inputs.KvWithScores(kvLen, 6, Scale, t => t < BlockKv ? -1000 - 0.5 * (t % 5) : 1000 - 20 * (t % 3 == 0 ? 1 : 0));
        var (output, _, _, _) = RunChecked(Make(Inputs.RopeSelectorQuery(Heads), kv, kvLen), variant);
        Assert.All(output, x => Assert.True(float.IsFinite(x)));
    }

    [Theory]
    [MemberData(nameof(Variants))]
    public void Nan_in_one_query_head_poisons_only_that_row(AttentionVariant variant)
    {
        var q = Inputs.Normal(Heads * MlaDims.QkDim, 7);
        q[3 * MlaDims.QkDim + 10] = float.NaN;
        var (output, _, _, _) = RunChecked(Make(q, Inputs.Normal(200 * MlaDims.QkDim, 8), 200), variant);
        for (int h = 0; h < Heads; h++)
        {
            for (int c = 0; c < MlaDims.VDim; c++)
            {
                Assert.Equal(h == 3, float.IsNaN(output[h * MlaDims.VDim + c]));
            }
        }
    }

    [Theory]
    [MemberData(nameof(Variants))]
    public void Minus_infinity_in_a_key_masks_that_row(AttentionVariant variant)
    {
        // q[h][512] > 0 for every head and kv[5][512] = -Inf: score -Inf, weight 0, output finite.
        var q = Inputs.Normal(Heads * MlaDims.QkDim, 9);
        for (int h = 0; h < Heads; h++)
        {
            q[h * MlaDims.QkDim + MlaDims.Latent] = Math.Abs(q[h * MlaDims.QkDim + MlaDims.Latent]) + 0.5f;
        }

        var kv = Inputs.Normal(300 * MlaDims.QkDim, 10);
        kv[5 * MlaDims.QkDim + MlaDims.Latent] = float.NegativeInfinity;
        var (output, _, _, _) = RunChecked(Make(q, kv, 300), variant);
        Assert.All(output, x => Assert.True(float.IsFinite(x)));
    }

    [Theory]
    [MemberData(nameof(Variants))]
    public void Infinity_in_a_value_follows_ieee_semantics(AttentionVariant variant)
    {
        // kv[7][0] = +Inf is in both K and V. Heads with q[h][0] > 0 see a +Inf score: the whole row is
        // NaN. Heads with q[h][0] < 0 see -Inf: weight 0, but 0 * Inf makes column 0 NaN; the other
        // columns stay finite. (RunChecked also checks the NaN pattern equals the reference's.)
        var q = Inputs.Normal(Heads * MlaDims.QkDim, 11);
        var kv = Inputs.Normal(150 * MlaDims.QkDim, 12);
        kv[7 * MlaDims.QkDim] = float.PositiveInfinity;
        var inputs = Make(q, kv, 150);
        var (output, _, _, _) = RunChecked(inputs, variant);
        int positive = 0, negative = 0;
        for (int h = 0; h < Heads; h++)
        {
            bool up = inputs.Query[h * MlaDims.QkDim] > 0;
            positive += up ? 1 : 0;
            negative += up ? 0 : 1;
            for (int c = 0; c < MlaDims.VDim; c++)
            {
                Assert.Equal(up || c == 0, float.IsNaN(output[h * MlaDims.VDim + c]));
            }
        }

        Assert.True(positive > 0 && negative > 0, "the seed must give heads of both signs");
    }

    [Theory]
    [MemberData(nameof(Variants))]
    public void All_scores_minus_infinity_gives_nan(AttentionVariant variant)
    {
        int kvLen = BlockKv + 10;
        var kv = Inputs.Normal(kvLen * MlaDims.QkDim, 13);
        for (int t = 0; t < kvLen; t++)
        {
            kv[t * MlaDims.QkDim + MlaDims.Latent] = float.NegativeInfinity;
        }

        var inputs = Make(Inputs.RopeSelectorQuery(Heads), kv, kvLen);
        var (output, _, _, _) = RunChecked(inputs, variant);
        Assert.All(output, x => Assert.True(float.IsNaN(x)));
    }
}
