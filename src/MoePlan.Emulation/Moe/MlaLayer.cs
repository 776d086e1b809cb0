namespace MoePlan.Emulation.Moe;

/// <summary>MLA dimensions (reduced width). <paramref name="QLoraRank"/> 0 = queries are not low-rank.</summary>
public sealed record MlaConfig(int Hidden, int Heads, int QLoraRank, int KvLoraRank, int NopeDim, int RopeDim, int VDim,
    MoeFormat Activations, MoeFormat KvCache)
{
    public int QkDim => NopeDim + RopeDim;
    public double SoftmaxScale => 1 / Math.Sqrt(QkDim);
}

/// <summary>Outputs of an MLA layer run and its float64 reference.</summary>
/// <param name="Tolerance">Relative L2 tolerance: K u_bf kappa, see <see cref="MlaLayer"/>.</param>
public sealed record MlaResult(float[] Prefill, float[] Decode, double[] Reference, double PrefillRelError, double DecodeRelError, double Tolerance, long Flops);

/// <summary>
/// Multi-head latent attention at reduced width, with RoPE on the rope parts (theta 10000):
/// prefill in the non-absorbed form (per-head keys W_UK c and values W_UV c from the latent cache),
/// decode of the last token in the absorbed form (q_lat = W_UK^T q_nope, attention over the latent
/// cache, W_UV applied after). float32 arithmetic; activations rounded to the activation format at
/// every matrix input; the latent cache stored in the KV-cache format. The float64 reference is the
/// non-absorbed prefill from the same stored weights without activation rounding.
/// <para>Tolerance (a first-order estimate, not a rigorous bound): the paths round at most six
/// activation vectors to the activation format (x, c_q, the latent before W_UK / W_UV, the head
/// outputs; the absorbed decode's q_lat and o_lat), each by at most u_act relatively (bf16: 2^-8), and
/// store the cache in its format (relative unit u_cache: bf16 2^-8, FP8 2^-4, int8 1/127 of the row
/// maximum). A relative perturbation of a matrix input moves that stage's output by at most
/// kappa = || |W| |x| ||_2 / || W x ||_2 relatively; the reference computes kappa for every stage and
/// the largest is used. Tolerance = kappa (6 u_act + u_cache), applied to the relative L2 error.</para>
/// </summary>
public sealed class MlaLayer
{
    private readonly QuantizedMatrix? _wdq, _wuq, _wq;
    private readonly QuantizedMatrix _wdkv, _wuk, _wuv, _wo;

    public MlaLayer(MlaConfig config, int seed, MoeFormat weights = MoeFormat.Bf16)
    {
        Config = config;
        var rng = new Random(seed);
        QuantizedMatrix M(int rows, int cols)
        {
            var v = new float[rows * cols];
            for (int i = 0; i < v.Length; i++)
            {
                double u1 = 1.0 - rng.NextDouble(), u2 = rng.NextDouble();
                v[i] = (float)(Math.Sqrt(-2 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2) / Math.Sqrt(cols));
            }

            return new QuantizedMatrix(rows, cols, v, weights);
        }

        var c = config;
        if (c.QLoraRank > 0)
        {
            _wdq = M(c.QLoraRank, c.Hidden);
            _wuq = M(c.Heads * c.QkDim, c.QLoraRank);
        }
        else
        {
            _wq = M(c.Heads * c.QkDim, c.Hidden);
        }

        _wdkv = M(c.KvLoraRank + c.RopeDim, c.Hidden);
        _wuk = M(c.Heads * c.NopeDim, c.KvLoraRank);
        _wuv = M(c.Heads * c.VDim, c.KvLoraRank);
        _wo = M(c.Hidden, c.Heads * c.VDim);
    }

    public MlaConfig Config { get; }

    /// <summary>Runs prefill over all tokens and the absorbed decode of the last one; compares both
    /// with the float64 reference.</summary>
    public MlaResult Run(float[] tokens)
    {
        var c = Config;
        int t = tokens.Length / c.Hidden;
        long flops = 0;

        // Queries and the latent cache (float32).
        var q = new float[t][];
        var cache = new float[t][];
        for (int i = 0; i < t; i++)
        {
            var x = Rounded(tokens.AsSpan(i * c.Hidden, c.Hidden), c.Activations);
            q[i] = QueryF(x, ref flops);
            Rope(q[i], i, c, perHead: true);
            var kv = new float[c.KvLoraRank + c.RopeDim];
            _wdkv.MatVec(x, kv);
            flops += 2L * _wdkv.Rows * _wdkv.Cols;
            Rope(kv.AsSpan(c.KvLoraRank), i);
            Quantizer.RoundRow(kv, c.KvCache);
            cache[i] = kv;
        }

        // Prefill, non-absorbed: per-head keys and values from the cache.
        var kNope = new float[t][];
        var values = new float[t][];
        for (int s = 0; s < t; s++)
        {
            var lat = Rounded(cache[s].AsSpan(0, c.KvLoraRank), c.Activations);
            kNope[s] = new float[c.Heads * c.NopeDim];
            values[s] = new float[c.Heads * c.VDim];
            _wuk.MatVec(lat, kNope[s]);
            _wuv.MatVec(lat, values[s]);
            flops += 2L * (_wuk.Rows + _wuv.Rows) * c.KvLoraRank;
        }

        var prefill = new float[t * c.Hidden];
        for (int i = 0; i < t; i++)
        {
            var heads = new float[c.Heads * c.VDim];
            for (int h = 0; h < c.Heads; h++)
            {
                var p = new float[i + 1];
                for (int s = 0; s <= i; s++)
                {
                    float dot = Emulator.HostSimd.Dot(q[i].AsSpan(h * c.QkDim, c.NopeDim), kNope[s].AsSpan(h * c.NopeDim, c.NopeDim))
                        + Emulator.HostSimd.Dot(q[i].AsSpan(h * c.QkDim + c.NopeDim, c.RopeDim), cache[s].AsSpan(c.KvLoraRank, c.RopeDim));
                    p[s] = dot * (float)c.SoftmaxScale;
                }

                Softmax(p);
                for (int s = 0; s <= i; s++)
                {
                    Emulator.HostSimd.Axpy(p[s], values[s].AsSpan(h * c.VDim, c.VDim), heads.AsSpan(h * c.VDim, c.VDim));
                }

                flops += 2L * (i + 1) * (c.QkDim + c.VDim);
            }

            Quantizer.RoundRow(heads, c.Activations);
            _wo.MatVec(heads, prefill.AsSpan(i * c.Hidden, c.Hidden));
            flops += 2L * _wo.Rows * _wo.Cols;
        }

        // Absorbed decode of the last token.
        int last = t - 1;
        var decodeHeads = new float[c.Heads * c.VDim];
        for (int h = 0; h < c.Heads; h++)
        {
            var qLat = new float[c.KvLoraRank];
            for (int d = 0; d < c.NopeDim; d++)
            {
                float qd = q[last][h * c.QkDim + d];
                for (int r = 0; r < c.KvLoraRank; r++)
                {
                    qLat[r] += qd * (float)_wuk.Dequantised[(h * c.NopeDim + d) * c.KvLoraRank + r];
                }
            }

            Quantizer.RoundRow(qLat, c.Activations);
            var p = new float[t];
            for (int s = 0; s < t; s++)
            {
                float dot = Emulator.HostSimd.Dot(qLat, cache[s].AsSpan(0, c.KvLoraRank))
                    + Emulator.HostSimd.Dot(q[last].AsSpan(h * c.QkDim + c.NopeDim, c.RopeDim), cache[s].AsSpan(c.KvLoraRank, c.RopeDim));
                p[s] = dot * (float)c.SoftmaxScale;
            }

            Softmax(p);
            var oLat = new float[c.KvLoraRank];
            for (int s = 0; s < t; s++)
            {
                Emulator.HostSimd.Axpy(p[s], cache[s].AsSpan(0, c.KvLoraRank), oLat);
            }

            Quantizer.RoundRow(oLat, c.Activations);
            var head = decodeHeads.AsSpan(h * c.VDim, c.VDim);
            for (int v = 0; v < c.VDim; v++)
            {
                head[v] = Emulator.HostSimd.Dot(_wuv.Codes.AsSpan((h * c.VDim + v) * c.KvLoraRank, c.KvLoraRank), oLat) * _wuv.Scales[h * c.VDim + v];
            }

            flops += 2L * c.NopeDim * c.KvLoraRank + 2L * t * (c.KvLoraRank + c.RopeDim + c.KvLoraRank) + 2L * c.VDim * c.KvLoraRank;
        }

        Quantizer.RoundRow(decodeHeads, c.Activations);
        var decode = new float[c.Hidden];
        _wo.MatVec(decodeHeads, decode);
        flops += 2L * _wo.Rows * _wo.Cols;

        var (reference, kappa) = Reference(tokens);
        double unit = c.Activations == MoeFormat.Fp32 ? 1.0 / (1 << 24) : Quantizer.UnitRoundoffBf16;
        double cacheUnit = c.KvCache switch
        {
            MoeFormat.Fp32 => 1.0 / (1 << 24),
            MoeFormat.Bf16 => Quantizer.UnitRoundoffBf16,
            MoeFormat.Fp8 => 1.0 / 16,
            _ => 1.0 / 127, // int8: half a step of max / 127, relative to max
        };
        double tolerance = kappa * (6 * unit + cacheUnit);
        double prefillErr = RelError(prefill, reference);
        double decodeErr = RelError(decode, reference.AsSpan(last * c.Hidden, c.Hidden));
        return new MlaResult(prefill, decode, reference, prefillErr, decodeErr, tolerance, flops);
    }

    private float[] QueryF(float[] x, ref long flops)
    {
        var c = Config;
        var q = new float[c.Heads * c.QkDim];
        if (_wdq is not null && _wuq is not null)
        {
            var cq = new float[c.QLoraRank];
            _wdq.MatVec(x, cq);
            Quantizer.RoundRow(cq, c.Activations);
            _wuq.MatVec(cq, q);
            flops += 2L * (_wdq.Rows * _wdq.Cols + _wuq.Rows * _wuq.Cols);
        }
        else
        {
            _wq!.MatVec(x, q);
            flops += 2L * _wq.Rows * _wq.Cols;
        }

        return q;
    }

    /// <summary>float64 non-absorbed prefill and the largest stage amplification kappa.</summary>
    private (double[] Output, double Kappa) Reference(float[] tokens)
    {
        var c = Config;
        int t = tokens.Length / c.Hidden;
        double kappa = 1;
        double[] Mv(QuantizedMatrix m, double[] x)
        {
            var y = new double[m.Rows];
            double n2 = 0, a2 = 0;
            for (int r = 0; r < m.Rows; r++)
            {
                double s = 0, a = 0;
                for (int col = 0; col < m.Cols; col++)
                {
                    double p = m.Dequantised[r * m.Cols + col] * x[col];
                    s += p;
                    a += Math.Abs(p);
                }

                y[r] = s;
                n2 += s * s;
                a2 += a * a;
            }

            if (n2 > 0)
            {
                kappa = Math.Max(kappa, Math.Sqrt(a2 / n2));
            }

            return y;
        }

        var q = new double[t][];
        var cache = new double[t][];
        for (int i = 0; i < t; i++)
        {
            var x = Enumerable.Range(0, c.Hidden).Select(j => (double)tokens[i * c.Hidden + j]).ToArray();
            q[i] = _wdq is not null && _wuq is not null ? Mv(_wuq, Mv(_wdq, x)) : Mv(_wq!, x);
            RopeD(q[i], i, c, perHead: true);
            cache[i] = Mv(_wdkv, x);
            RopeD(cache[i].AsSpan(c.KvLoraRank), i);
        }

        var k = new double[t][];
        var v = new double[t][];
        for (int s = 0; s < t; s++)
        {
            var lat = cache[s][..c.KvLoraRank];
            k[s] = Mv(_wuk, lat);
            v[s] = Mv(_wuv, lat);
        }

        var output = new double[t * c.Hidden];
        for (int i = 0; i < t; i++)
        {
            var heads = new double[c.Heads * c.VDim];
            for (int h = 0; h < c.Heads; h++)
            {
                var p = new double[i + 1];
                double max = double.NegativeInfinity, sum = 0;
                for (int s = 0; s <= i; s++)
                {
                    double dot = 0;
                    for (int d = 0; d < c.NopeDim; d++)
                    {
                        dot += q[i][h * c.QkDim + d] * k[s][h * c.NopeDim + d];
                    }

                    for (int d = 0; d < c.RopeDim; d++)
                    {
                        dot += q[i][h * c.QkDim + c.NopeDim + d] * cache[s][c.KvLoraRank + d];
                    }

                    p[s] = dot * c.SoftmaxScale;
                    max = Math.Max(max, p[s]);
                }

                for (int s = 0; s <= i; s++)
                {
                    p[s] = Math.Exp(p[s] - max);
                    sum += p[s];
                }

                for (int s = 0; s <= i; s++)
                {
                    for (int d = 0; d < c.VDim; d++)
                    {
                        heads[h * c.VDim + d] += p[s] / sum * v[s][h * c.VDim + d];
                    }
                }
            }

            Mv(_wo, heads).CopyTo(output, i * c.Hidden);
        }

        return (output, kappa);
    }

    private static float[] Rounded(ReadOnlySpan<float> x, MoeFormat format)
    {
        var r = x.ToArray();
        Quantizer.RoundRow(r, format);
        return r;
    }

    private static void Softmax(Span<float> p)
    {
        float max = float.NegativeInfinity, sum = 0;
        foreach (var x in p)
        {
            max = Math.Max(max, x);
        }

        for (int i = 0; i < p.Length; i++)
        {
            p[i] = MathF.Exp(p[i] - max);
            sum += p[i];
        }

        for (int i = 0; i < p.Length; i++)
        {
            p[i] /= sum;
        }
    }

    private static void Rope(Span<float> x, int position, MlaConfig? c = null, bool perHead = false)
    {
        if (perHead && c is not null)
        {
            for (int h = 0; h < c.Heads; h++)
            {
                Rope(x.Slice(h * c.QkDim + c.NopeDim, c.RopeDim), position);
            }

            return;
        }

        for (int i = 0; i + 1 < x.Length; i += 2)
        {
            double angle = position * Math.Pow(10000, -(double)i / x.Length);
            float cos = (float)Math.Cos(angle), sin = (float)Math.Sin(angle);
            float a = x[i], b = x[i + 1];
            x[i] = a * cos - b * sin;
            x[i + 1] = a * sin + b * cos;
        }
    }

    private static void RopeD(Span<double> x, int position, MlaConfig? c = null, bool perHead = false)
    {
        if (perHead && c is not null)
        {
            for (int h = 0; h < c.Heads; h++)
            {
                RopeD(x.Slice(h * c.QkDim + c.NopeDim, c.RopeDim), position);
            }

            return;
        }

        for (int i = 0; i + 1 < x.Length; i += 2)
        {
            double angle = position * Math.Pow(10000, -(double)i / x.Length);
            double cos = Math.Cos(angle), sin = Math.Sin(angle);
            double a = x[i], b = x[i + 1];
            x[i] = a * cos - b * sin;
            x[i + 1] = a * sin + b * cos;
        }
    }

    private static double RelError(ReadOnlySpan<float> actual, ReadOnlySpan<double> reference)
    {
        double num = 0, den = 0;
        for (int i = 0; i < reference.Length; i++)
        {
            num += (actual[i] - reference[i]) * (actual[i] - reference[i]);
            den += reference[i] * reference[i];
        }

        return Math.Sqrt(num / den);
    }
}
