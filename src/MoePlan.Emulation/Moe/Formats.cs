using MoePlan.Emulation.Emulator;

namespace MoePlan.Emulation.Moe;

/// <summary>Numeric formats of weights and of activations on the wire.</summary>
public enum MoeFormat
{
    /// <summary>float32 (no rounding).</summary>
    Fp32,

    /// <summary>bfloat16: round to nearest even, relative error at most 2^-8.</summary>
    Bf16,

    /// <summary>FP8 E4M3 with one float32 scale per row (max |x| / 448).</summary>
    Fp8,

    /// <summary>int8 with one float32 scale per row (symmetric, max |x| / 127).</summary>
    Int8,
}

/// <summary>Rounding of a row to a <see cref="MoeFormat"/> and the matching a-priori error bound.</summary>
public static class Quantizer
{
    public const double UnitRoundoffFp32 = 1.0 / (1 << 24);
    public const double UnitRoundoffBf16 = 1.0 / 256;

    /// <summary>Bytes per element on the wire or in memory.</summary>
    public static int ElementBytes(MoeFormat f) => f switch
    {
        MoeFormat.Fp32 => 4,
        MoeFormat.Bf16 => 2,
        _ => 1,
    };

    /// <summary>Extra bytes per row (the float32 scale of the scaled formats).</summary>
    public static int RowOverheadBytes(MoeFormat f) => f is MoeFormat.Fp8 or MoeFormat.Int8 ? 4 : 0;

    /// <summary>Rounds <paramref name="row"/> in place to the values the format can hold (dequantised:
    /// code x scale, in float32).</summary>
    public static void RoundRow(Span<float> row, MoeFormat format)
    {
        switch (format)
        {
            case MoeFormat.Fp32:
                return;
            case MoeFormat.Bf16:
                HostSimd.RoundToBf16(row);
                return;
            case MoeFormat.Int8:
                {
                    float max = MaxAbs(row);
                    if (max == 0)
                    {
                        return;
                    }

                    float scale = max / 127f;
                    for (int i = 0; i < row.Length; i++)
                    {
                        row[i] = MathF.Round(row[i] / scale, MidpointRounding.ToEven) * scale;
                    }

                    return;
                }

            case MoeFormat.Fp8:
                {
                    float max = MaxAbs(row);
                    if (max == 0)
                    {
                        return;
                    }

                    float scale = max / 448f;
                    for (int i = 0; i < row.Length; i++)
                    {
                        row[i] = RoundE4M3(row[i] / scale) * scale;
                    }

                    return;
                }
        }
    }

    /// <summary>FP8 E4M3 (no infinities, max 448, normals from 2^-6, subnormal step 2^-9), nearest even.</summary>
    public static float RoundE4M3(float x)
    {
        if (!float.IsFinite(x))
        {
            return x;
        }

        float a = MathF.Abs(x);
        float step = a >= 1f / 64 ? MathF.ScaleB(1f, MathF.ILogB(a) - 3) : 1f / 512;
        float r = MathF.Round(a / step, MidpointRounding.ToEven) * step;
        return MathF.CopySign(Math.Min(r, 448f), x);
    }

    /// <summary>Element-wise bound on |round(x) - x| (first order: the scale's own float32 rounding
    /// and the dequantising multiply add 2 u |x|), for a row whose element magnitudes are at most
    /// <paramref name="magnitudes"/>.</summary>
    public static void AddErrorBound(ReadOnlySpan<double> magnitudes, Span<double> bound, MoeFormat format)
    {
        double max = 0;
        foreach (var m in magnitudes)
        {
            max = Math.Max(max, m);
        }

        for (int i = 0; i < magnitudes.Length; i++)
        {
            double m = magnitudes[i];
            bound[i] += format switch
            {
                MoeFormat.Fp32 => 0,
                MoeFormat.Bf16 => UnitRoundoffBf16 * m,
                // half a step of max/127, plus float32 roundings of scale, quotient and product
                MoeFormat.Int8 => max / 127 / 2 + 4 * UnitRoundoffFp32 * (m + max),
                // half an ulp: 2^-4 relative for normals, half the subnormal step 2^-10 in scaled units
                _ => Math.Max(m / 16, max / 448 / 1024) + 4 * UnitRoundoffFp32 * (m + max),
            };
        }
    }

    private static float MaxAbs(ReadOnlySpan<float> row)
    {
        float max = 0;
        foreach (var x in row)
        {
            max = Math.Max(max, MathF.Abs(x));
        }

        return max;
    }
}
