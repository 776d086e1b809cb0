namespace MoePlan.Emulation.Moe;

/// <summary>A weight matrix [Rows x Cols] as deployed: bf16 values, or int8 / FP8 codes with one
/// float32 scale per output channel (row). <see cref="Dequantised"/> holds code x scale as the
/// float64 reference uses it; the emulated path multiplies codes and applies the scale after the dot
/// product (as an int8 GEMM does).</summary>
public sealed class QuantizedMatrix
{
    public QuantizedMatrix(int rows, int cols, ReadOnlySpan<float> values, MoeFormat format)
    {
        Rows = rows;
        Cols = cols;
        Format = format;
        Codes = new float[rows * cols];
        Scales = new float[rows];
        Dequantised = new double[rows * cols];
        for (int r = 0; r < rows; r++)
        {
            var src = values.Slice(r * cols, cols);
            var dst = Codes.AsSpan(r * cols, cols);
            float max = 0;
            foreach (var x in src)
            {
                max = Math.Max(max, MathF.Abs(x));
            }

            float scale = format switch
            {
                MoeFormat.Int8 => max / 127f,
                MoeFormat.Fp8 => max / 448f,
                _ => 1f,
            };
            if (scale == 0)
            {
                scale = 1;
            }

            Scales[r] = scale;
            for (int c = 0; c < cols; c++)
            {
                dst[c] = format switch
                {
                    MoeFormat.Int8 => MathF.Round(src[c] / scale, MidpointRounding.ToEven),
                    MoeFormat.Fp8 => Quantizer.RoundE4M3(src[c] / scale),
                    MoeFormat.Bf16 => Emulator.FloatBits.RoundToBf16(src[c]),
                    _ => src[c],
                };
                Dequantised[r * cols + c] = (double)dst[c] * scale;
            }
        }
    }

    public int Rows { get; }
    public int Cols { get; }
    public MoeFormat Format { get; }
    public float[] Codes { get; }
    public float[] Scales { get; }
    public double[] Dequantised { get; }

    public long Bytes => (long)Rows * Cols * Quantizer.ElementBytes(Format) + (Format is MoeFormat.Int8 or MoeFormat.Fp8 ? 4L * Rows : 0);

    /// <summary>y = W x in float32: dot of codes and x, times the row scale.</summary>
    public void MatVec(ReadOnlySpan<float> x, Span<float> y)
    {
        for (int r = 0; r < Rows; r++)
        {
            y[r] = Emulator.HostSimd.Dot(Codes.AsSpan(r * Cols, Cols), x) * Scales[r];
        }
    }
}

/// <summary>A SwiGLU expert: y = W2 (silu(W1 x) * (W3 x)); W1, W3 [I x H], W2 [H x I].</summary>
public sealed record SwiGluExpert(QuantizedMatrix Gate, QuantizedMatrix Up, QuantizedMatrix Down)
{
    public int Hidden => Gate.Cols;
    public int Intermediate => Gate.Rows;

    /// <summary>FLOPs of one token through the expert (three matrix-vector products).</summary>
    public long FlopsPerToken => 2L * 3 * Hidden * Intermediate;

    /// <summary>float32 evaluation; the activation feeding the down projection is rounded to
    /// <paramref name="activation"/> (the matrix unit's input format).</summary>
    public void Forward(ReadOnlySpan<float> x, Span<float> y, MoeFormat activation)
    {
        var a = new float[Intermediate];
        var b = new float[Intermediate];
        Gate.MatVec(x, a);
        Up.MatVec(x, b);
        for (int i = 0; i < a.Length; i++)
        {
            a[i] = a[i] / (1f + MathF.Exp(-a[i])) * b[i];
        }

        Quantizer.RoundRow(a, activation);
        Down.MatVec(a, y);
    }
}
