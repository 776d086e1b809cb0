using MoePlan.Runtime.Kernels;

namespace MoePlan.Runtime.Tests;

/// <summary>
/// Error bounds for the decode kernel against the FP64 reference (computed here in FP64 from the
/// inputs; nothing comes from the code under test).
/// <para>Notation: u = 2^-24 (FP32 unit roundoff), u_bf = 2^-8 (BF16), eps_exp = 4u (assumed accuracy of
/// the exp instruction: a few ulp), gamma_n = n u / (1 - n u). Per row: s_t = scale q.k_t, m = max s,
/// w_t = exp(s_t - m) / sum, o = sum w_t v_t, A_t = sum_i |q_i k_ti|.</para>
/// <para>Rigorous (componentwise, first order in the roundoffs). The kernel's P entries are
/// p_t e^theta_t with |theta_t| &lt;= delta, where delta collects: the FP32 dot product of 576 terms
/// (products of BF16 values are exact in FP32), scale * gamma_576 * A_t; the roundings of the scale
/// multiply, the max subtraction and (AMLA) the log2 e / ln 2 multiplies and the integer reference
/// exponent (|t - n| &lt;= |s - m| log2 e + 1), bounded by 8u (|s_t| + |s_t - m| + 1); eps_exp; the BF16
/// rounding of P, u_bf; and for Standard the B rescale factors exp(m_old - m_new) (each eps_exp + 2u,
/// and the arguments telescope to at most 2 max|s| u). Normalised weights then move by at most a
/// factor e^(+-2 delta), so |sum (w^ - w) v_c| &lt;= (e^(2 delta) - 1) a_c with a_c = sum_t w_t |v_tc|.
/// FP32 accumulation of O and l over kvLen terms (plus 2B rescale multiplies) adds
/// 2 gamma_(kvLen+2B) e^(2 delta) a_c, the final 1/l and multiply 3u |o_c|. Absolute terms, since l
/// &gt;= 1/2 in both variants (the block that sets the max has a P entry in (1/2, 1]): AMLA's flush to
/// zero of an entry below 2^-126 at each of B rescales, 2 B 2^-126; gradual underflow of the kvLen + 2B
/// FP32 operations, 2 (kvLen + 2B) 2^-149.</para>
/// <para>Statistical (relative L2 of the whole output): to first order the error is dominated by the
/// BF16 rounding of P, e_c = sum_t w_t d_t (v_tc - o_c) with independent d_t, |d_t| &lt;= u_bf and
/// E d_t^2 &lt;= u_bf^2 / 3, so E ||e||^2 &lt;= (u_bf^2 / 3) sum_c sum_t w_t^2 (v_tc - o_c)^2 =: sigma^2.
/// The tests assert ||e|| &lt;= 3 sigma + ||FP32 part of the rigorous bound|| (a sum of thousands of
/// independent terms concentrates well inside 3 sigma).</para>
/// </summary>
internal sealed class MlaErrorBounds
{
    private const double U = 1.0 / (1 << 24);
    private const double UBf = 1.0 / 256;
    private const double EpsExp = 4 * U;

    /// <summary>Rigorous componentwise bound; NaN where the reference output is not finite.</summary>
    public double[] Elementwise { get; }

    /// <summary>The FP32-only part of the rigorous bound (u_bf = 0).</summary>
    public double[] Fp32Part { get; }

    /// <summary>sigma of the statistical model.</summary>
    public double Sigma { get; }

    public MlaErrorBounds(MlaDecodeInputs inputs, double[] reference, AttentionVariant variant, int blockKv)
    {
        int d = MlaDims.QkDim, dv = MlaDims.VDim;
        int blocks = (inputs.KvLen + blockKv - 1) / blockKv;
        Elementwise = new double[reference.Length];
        Fp32Part = new double[reference.Length];
        double sigma2 = 0;
        var s = new double[inputs.KvLen];
        var a = new double[inputs.KvLen];
        for (int b = 0; b < inputs.Batch; b++)
        {
            for (int h = 0; h < inputs.Heads; h++)
            {
                int qBase = (b * inputs.Heads + h) * d;
                int oBase = (b * inputs.Heads + h) * dv;
                double m = double.NegativeInfinity, maxAbsS = 0;
                for (int t = 0; t < inputs.KvLen; t++)
                {
                    int kBase = (b * inputs.KvLen + t) * d;
                    double dot = 0, abs = 0;
                    for (int i = 0; i < d; i++)
                    {
                        double p = (double)inputs.Query[qBase + i] * inputs.KvCache[kBase + i];
                        dot += p;
                        abs += Math.Abs(p);
                    }

                    s[t] = dot * inputs.SoftmaxScale;
                    a[t] = abs * inputs.SoftmaxScale;
                    m = Math.Max(m, s[t]);
                    if (double.IsFinite(s[t]))
                    {
                        maxAbsS = Math.Max(maxAbsS, Math.Abs(s[t]));
                    }
                }

                double eta = 0, sum = 0;
                for (int t = 0; t < inputs.KvLen; t++)
                {
                    if (!double.IsFinite(s[t]))
                    {
                        continue; // -Inf scores are exact zero weights in kernel and reference
                    }

                    eta = Math.Max(eta, Gamma(d) * a[t] + 8 * U * (Math.Abs(s[t]) + Math.Abs(s[t] - m) + 1));
                    sum += Math.Exp(s[t] - m);
                }

                var w = new double[inputs.KvLen];
                for (int t = 0; t < inputs.KvLen; t++)
                {
                    w[t] = double.IsFinite(s[t]) ? Math.Exp(s[t] - m) / sum : 0;
                }

                double rescale = variant == AttentionVariant.Standard ? blocks * (EpsExp + 2 * U) + 2 * maxAbsS * U : 0;
                double delta32 = eta + EpsExp + rescale;
                double delta = delta32 + UBf;
                double gamma = Gamma(inputs.KvLen + 2 * blocks);
                double flush = (variant == AttentionVariant.Amla ? 2 * blocks * Math.Pow(2, -126) : 0)
                    + 2 * (inputs.KvLen + 2 * blocks) * Math.Pow(2, -149);
                for (int c = 0; c < dv; c++)
                {
                    double o = reference[oBase + c];
                    if (!double.IsFinite(o))
                    {
                        Elementwise[oBase + c] = double.NaN;
                        Fp32Part[oBase + c] = double.NaN;
                        continue;
                    }

                    double ac = 0, var = 0;
                    for (int t = 0; t < inputs.KvLen; t++)
                    {
                        if (w[t] == 0)
                        {
                            continue;
                        }

                        double v = inputs.KvCache[(b * inputs.KvLen + t) * d + c];
                        ac += w[t] * Math.Abs(v);
                        var += w[t] * w[t] * (v - o) * (v - o);
                    }

                    sigma2 += UBf * UBf / 3 * var;
                    Elementwise[oBase + c] = Bound(delta, gamma, ac, o) + flush;
                    Fp32Part[oBase + c] = Bound(delta32, gamma, ac, o) + flush;
                }
            }
        }

        Sigma = Math.Sqrt(sigma2);
    }

    private static double Bound(double delta, double gamma, double ac, double o) =>
        (Math.Exp(2 * delta) - 1) * ac + (2 * gamma + 4 * U) * Math.Exp(2 * delta) * ac + 3 * U * Math.Abs(o);

    private static double Gamma(int n) => n * U / (1 - n * U);

    public static double Norm(IEnumerable<double> values) => Math.Sqrt(values.Where(double.IsFinite).Sum(x => x * x));

    /// <summary>Asserts the componentwise bound on finite reference outputs, equal non-finiteness
    /// elsewhere, and the statistical relative-L2 bound; returns the measured ||e|| / ||o||.</summary>
    public double AssertWithin(float[] actual, double[] reference, string what)
    {
        double err2 = 0, ref2 = 0;
        for (int i = 0; i < reference.Length; i++)
        {
            if (!double.IsFinite(reference[i]))
            {
                Assert.False(float.IsFinite(actual[i]), $"{what}: element {i} is {actual[i]}, the reference is {reference[i]}");
                Assert.Equal(double.IsNaN(reference[i]), float.IsNaN(actual[i]));
                continue;
            }

            double e = Math.Abs(actual[i] - reference[i]);
            Assert.True(e <= Elementwise[i], $"{what}: element {i}: |{actual[i]} - {reference[i]}| = {e} > bound {Elementwise[i]}");
            err2 += e * e;
            ref2 += reference[i] * reference[i];
        }

        double allowed = 3 * Sigma + Norm(Fp32Part);
        Assert.True(Math.Sqrt(err2) <= allowed, $"{what}: ||e|| = {Math.Sqrt(err2)} > 3 sigma + fp32 part = {allowed}");
        return ref2 == 0 ? 0 : Math.Sqrt(err2 / ref2);
    }
}
