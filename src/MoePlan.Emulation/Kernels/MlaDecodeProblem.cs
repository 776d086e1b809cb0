namespace MoePlan.Emulation.Kernels;

/// <summary>Which rescaling scheme the decode-attention kernel uses.</summary>
public enum AttentionVariant
{
    /// <summary>FlashAttention-style online softmax: O travels GM -> UB -> GM every KV block to be
    /// multiplied by exp(m_old - m_new).</summary>
    Standard,

    /// <summary>AMLA: power-of-two rescale applied in place in GM as an integer add to the FP32 bits;
    /// P V accumulated into O by FP32 atomic add.</summary>
    Amla,
}

/// <summary>Absorbed-MLA dimensions (DeepSeek-V3, amla.md): 576-wide keys (512 latent c_kv + 64 rope
/// k_pe), values = the first 512 of each KV row.</summary>
public static class MlaDims
{
    public const int Latent = 512;
    public const int Rope = 64;
    public const int QkDim = Latent + Rope;
    public const int VDim = Latent;

    /// <summary>
    /// DeepSeek-V3 softmax scale: 1/sqrt(qk_nope + qk_rope = 192) [amla.md] times mscale^2 with the
    /// YaRN mscale = 0.1 * mscale_all_dim * ln(factor) + 1, factor 40, mscale_all_dim 1.0
    /// (DeepSeek-V3 config.json rope_scaling and inference/model.py [2nd]) = 0.13527.
    /// </summary>
    public static readonly float DeepSeekSoftmaxScale = ComputeDeepSeekScale();

    private static float ComputeDeepSeekScale()
    {
        double mscale = 0.1 * 1.0 * Math.Log(40.0) + 1.0;
        return (float)(1.0 / Math.Sqrt(128 + 64) * mscale * mscale);
    }
}

/// <summary>
/// The inputs of one decode step: per sequence b a query of <see cref="Heads"/> x 576 and a KV cache
/// of <see cref="KvLen"/> x 576, all BF16 (held as float32 values already rounded to BF16).
/// Layout: Query[(b * Heads + h) * 576 + i], KvCache[(b * KvLen + t) * 576 + i].
/// </summary>
public sealed class MlaDecodeInputs
{
    public MlaDecodeInputs(int batch, int heads, int kvLen, float[] query, float[] kvCache, float softmaxScale)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(batch);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(heads);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(kvLen);
        if (query.Length != batch * heads * MlaDims.QkDim)
        {
            throw new ArgumentException($"Query needs {batch * heads * MlaDims.QkDim} values.", nameof(query));
        }

        if (kvCache.Length != batch * kvLen * MlaDims.QkDim)
        {
            throw new ArgumentException($"KV cache needs {batch * kvLen * MlaDims.QkDim} values.", nameof(kvCache));
        }

        Batch = batch;
        Heads = heads;
        KvLen = kvLen;
        Query = query.Select(Emulator.FloatBits.RoundToBf16).ToArray();
        KvCache = kvCache.Select(Emulator.FloatBits.RoundToBf16).ToArray();
        SoftmaxScale = softmaxScale;
    }

    public int Batch { get; }
    public int Heads { get; }
    public int KvLen { get; }
    public float[] Query { get; }
    public float[] KvCache { get; }
    public float SoftmaxScale { get; }

    /// <summary>Standard-normal query and KV entries (Box-Muller on a seeded <see cref="Random"/>),
    /// rounded to BF16.</summary>
    public static MlaDecodeInputs Random(AmlaShape shape)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(shape.Heads);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(shape.KvLen);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(shape.Batch);
        var rng = new Random(shape.Seed);
        var q = new float[shape.Batch * shape.Heads * MlaDims.QkDim];
        var kv = new float[shape.Batch * shape.KvLen * MlaDims.QkDim];
        Fill(rng, q);
        Fill(rng, kv);
        return new MlaDecodeInputs(shape.Batch, shape.Heads, shape.KvLen, q, kv, shape.SoftmaxScale);
    }

    private static void Fill(Random rng, float[] values)
    {
        for (int i = 0; i < values.Length; i += 2)
        {
            double u1 = 1.0 - rng.NextDouble();
            double u2 = rng.NextDouble();
            double r = Math.Sqrt(-2.0 * Math.Log(u1));
            values[i] = (float)(r * Math.Cos(2 * Math.PI * u2));
            if (i + 1 < values.Length)
            {
                values[i + 1] = (float)(r * Math.Sin(2 * Math.PI * u2));
            }
        }
    }
}

/// <summary>A decode-attention problem size for the report API: query heads, KV length, batch
/// (sequences, one query token each) and the seed of the random inputs.</summary>
public sealed record AmlaShape(int Heads, int KvLen, int Batch, int Seed)
{
    /// <summary>
    /// Query and KV elements the host may hold for one comparison: 2^30 float32 values (4 GiB) of inputs, which the
    /// emulated GM and the FP64 reference hold again. The largest shape of docs/amla.md (batch 24, KV 32,768, 128 heads)
    /// has 0.45 x 2^30; a host with less memory than that multiple fails on its own.
    /// </summary>
    public const long MaxInputElements = 1L << 30;

    public float SoftmaxScale { get; init; } = MlaDims.DeepSeekSoftmaxScale;

    /// <summary>Query (batch x heads x 576) and KV cache (batch x KV length x 576) elements, in 128-bit arithmetic
    /// (int.MaxValue^2 x 576 is beyond a long).</summary>
    public Int128 InputElements => ((Int128)Batch * Heads * MlaDims.QkDim) + ((Int128)Batch * KvLen * MlaDims.QkDim);

    /// <summary>Why the emulator cannot hold this shape (checked before anything is allocated), or null.</summary>
    public string? TooLarge()
    {
        if (Heads < 1 || KvLen < 1 || Batch < 1)
        {
            return "heads, KV length and batch must be at least 1";
        }

        var kv = (Int128)Batch * KvLen * MlaDims.QkDim;
        if (kv > Array.MaxLength)
        {
            return $"the KV cache of batch {Batch} x KV length {KvLen} x {MlaDims.QkDim} is {kv:N0} values, over one array's {Array.MaxLength:N0}";
        }

        return InputElements > MaxInputElements
            ? $"batch {Batch}, {Heads} heads and KV length {KvLen} make {InputElements:N0} input values, over the emulator's {MaxInputElements:N0} (4 GiB of float32); use a smaller batch or KV length"
            : null;
    }
}
