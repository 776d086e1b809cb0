using MoePlan.Emulation.Kernels;

namespace MoePlan.Emulation.Tests;

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
/// <para>Statistical (L2 norm of the whole error): to first order the error of output c is
/// e_c = sum_t w_t d_t (v_tc - o_c) + (accumulation errors), where d_t is the relative error of the
/// kernel's P entry t. Modelling the roundings as independent and zero-mean with a rounding of unit
/// roundoff u' contributing variance &lt;= u'^2 / 3: E d_t^2 &lt;= u_bf^2 / 3 (BF16 rounding of P)
/// + u^2 / 3 (576 (scale A_t)^2 (random walk of the 576 additions of the dot product, each partial sum
/// at most scale A_t) + (8 (|s_t| + |s_t - m| + 1))^2 + 16), and the FP32 accumulations add
/// (kvLen + 2B) u^2 / 3 a_c^2 (+ B (eps_exp + 2u)^2 / 3 a_c^2 for Standard's rescale factors). sigma^2 is
/// the sum over all outputs; the tests assert ||e|| &lt;= 3 sigma (a sum of thousands of independent
/// terms concentrates well inside 3 sigma). The BF16 term dominates: sigma / ||o|| is about u_bf / sqrt(3)
/// times a data-dependent factor.</para>
/// <para>Split-K (<c>splitRows</c> &gt; 0: KV rows [s R, (s+1) R) form split s). Each split runs the
/// analysis above on its rows (its own max, so l_s &gt;= 1/2; the per-split accumulation counts are at
/// most the whole-row ones). The combine multiplies split s's contribution by
/// exp(lse^_s - lse_s) times rounding factors: lse_s = (n ln 2 or m) + ln l_s with |lse| &lt;=
/// max|s| + ln L + 2 (n &lt;= max s log2 e + 1, 1/2 &lt;= l &lt;= L), rounded in the product, the log
/// (2u (ln L + 1)) and the sum; the weight's max subtraction, exp (eps_exp), the FP32 sum of S weights
/// and the reciprocal and multiplies; the partial normalisation 1/l_s and its multiply; the FP32 sum of
/// S weighted partials (gamma_S). All are relative perturbations of the split's weights, so they add
/// delta_c = u (4 (max|s| + ln L + 2) + 2 (ln L + 1) + 8) + eps_exp + 2 gamma_S to delta. Statistically
/// the combine error is one factor per split, correlated over the split's rows: it adds
/// var_c (sum_(t in s) w_t (v_tc - o_c))^2 per split with var_c = (delta_c)^2 / 3.</para>
/// </summary>
internal sealed class MlaErrorBounds
{
    private const double U = 1.0 / (1 << 24);
    private const double UBf = 1.0 / 256;
    private const double EpsExp = 4 * U;

    /// <summary>Rigorous componentwise bound; NaN where the reference output is not finite.</summary>
    public double[] Elementwise { get; }

    /// <summary>sigma of the statistical model.</summary>
    public double Sigma { get; }

    public MlaErrorBounds(MlaDecodeInputs inputs, double[] reference, AttentionVariant variant, int blockKv, int splitRows = 0)
    {
        int splits = splitRows <= 0 ? 1 : (inputs.KvLen + splitRows - 1) / splitRows;
        var splitSums = new double[splits];
        int d = MlaDims.QkDim, dv = MlaDims.VDim;
        int blocks = (inputs.KvLen + blockKv - 1) / blockKv;
        Elementwise = new double[reference.Length];
        double sigma2 = 0;
        var s = new double[inputs.KvLen];
        var a = new double[inputs.KvLen];
        var varD = new double[inputs.KvLen];
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
                    double roundings = 8 * (Math.Abs(s[t]) + Math.Abs(s[t] - m) + 1);
                    varD[t] = UBf * UBf / 3 + U * U / 3 * (d * a[t] * a[t] + roundings * roundings + 16);
                    sum += Math.Exp(s[t] - m);
                }

                var w = new double[inputs.KvLen];
                for (int t = 0; t < inputs.KvLen; t++)
                {
                    w[t] = double.IsFinite(s[t]) ? Math.Exp(s[t] - m) / sum : 0;
                }

                double combine = splits == 1 ? 0
                    : U * (4 * (maxAbsS + Math.Log(inputs.KvLen) + 2) + 2 * (Math.Log(inputs.KvLen) + 1) + 8) + EpsExp + 2 * Gamma(splits);
                double rescale = variant == AttentionVariant.Standard ? blocks * (EpsExp + 2 * U) + 2 * maxAbsS * U : 0;
                double delta = eta + EpsExp + rescale + UBf + combine;
                double varAccumulate = U * U / 3 * (inputs.KvLen + 2 * blocks)
                    + (variant == AttentionVariant.Standard ? blocks * (EpsExp + 2 * U) * (EpsExp + 2 * U) / 3 : 0);
                double gamma = Gamma(inputs.KvLen + 2 * blocks + splits);
                double flush = (variant == AttentionVariant.Amla ? 2 * blocks * Math.Pow(2, -126) : 0)
                    + 2 * (inputs.KvLen + 2 * blocks) * Math.Pow(2, -149);
                for (int c = 0; c < dv; c++)
                {
                    double o = reference[oBase + c];
                    if (!double.IsFinite(o))
                    {
                        Elementwise[oBase + c] = double.NaN;
                        continue;
                    }

                    double ac = 0, var = 0;
                    Array.Clear(splitSums);
                    for (int t = 0; t < inputs.KvLen; t++)
                    {
                        if (w[t] == 0)
                        {
                            continue;
                        }

                        double v = inputs.KvCache[(b * inputs.KvLen + t) * d + c];
                        ac += w[t] * Math.Abs(v);
                        var += w[t] * w[t] * (v - o) * (v - o) * varD[t];
                        splitSums[splits == 1 ? 0 : t / splitRows] += w[t] * (v - o);
                    }

                    if (splits > 1)
                    {
                        foreach (double sum2 in splitSums)
                        {
                            var += combine * combine / 3 * sum2 * sum2;
                        }
                    }

                    sigma2 += var + varAccumulate * ac * ac;
                    Elementwise[oBase + c] = Bound(delta, gamma, ac, o) + flush;
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

        Assert.True(Math.Sqrt(err2) <= 3 * Sigma, $"{what}: ||e|| = {Math.Sqrt(err2)} > 3 sigma = {3 * Sigma}");
        return ref2 == 0 ? 0 : Math.Sqrt(err2 / ref2);
    }
}
