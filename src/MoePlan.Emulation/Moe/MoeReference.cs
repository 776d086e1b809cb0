namespace MoePlan.Emulation.Moe;

/// <summary>The float64 reference of one MoE layer on one device, with a first-order running error
/// bound for the emulated float32 path.</summary>
/// <param name="Output">[T x H] reference output.</param>
/// <param name="Bound">[T x H] bound on |emulated - reference|.</param>
/// <param name="RoutingFlips">Tokens whose float32 selection differs from the float64 one but is
/// admissible (every swapped pair of scores lies within their error bounds): the reference then uses
/// the float32 selection, as either is a correct evaluation.</param>
/// <param name="RoutingMismatches">Tokens whose float32 selection is not admissible (a bug); the
/// reference keeps its own selection, so their outputs will not match.</param>
/// <param name="Sigma">sqrt of the summed variance of the statistical model (independent, zero-mean
/// roundings; a rounding with error at most b contributes variance b^2 / 3): the normwise check is
/// ||emulated - reference||_2 &lt;= 3 Sigma, much tighter than the worst-case <paramref name="Bound"/>.</param>
public sealed record MoeReferenceResult(double[] Output, double[] Bound, int RoutingFlips, int RoutingMismatches, double Sigma);

/// <summary>
/// Float64 evaluation of the layer from the same stored weights (int8 / FP8 codes x scales, bf16
/// values), with no rounding of activations. Alongside each value it carries a bound on the emulated
/// float32 path's error (running error analysis, first order, u = 2^-24):
/// a dot product of n terms adds gamma_n sum |w_i x_i| (gamma_n = n u / (1 - n u)) and propagates the
/// input's bound through |W|; a per-channel scale multiply adds u |y|; rounding to a format adds
/// <see cref="Quantizer.AddErrorBound"/> of the magnitudes |v| + e; silu(a) b adds
/// 1.1 e_a (|b| + e_b) + |silu(a)| e_b + 8 u |h| (|silu'| &lt;= 1.0998; exp, add, divide, multiply);
/// sigmoid adds e_z / 4 + 6 u s; softmax p_e (2 max e_z + (E + 6) u); the top-k weights
/// w_k = s_k / sum s x f carry w_k (e_k / s_k + sum e / sum s + (k + 3) u); the weighted sum of K expert
/// outputs and the shared output adds gamma_(K+1) times the sum of magnitudes.
/// <para>The worst-case bound assumes every rounding error has the worst sign and is loose (by about
/// sqrt(fan-in) per matrix). Alongside it a variance is propagated under the usual statistical model
/// (independent zero-mean roundings, variance bound^2 / 3; W^2 for linear maps; the silu product by
/// its derivatives; random-walk accumulation n u^2 |.|^2 / 3): <see cref="MoeReferenceResult.Sigma"/>.
/// Callers check both: every element within its bound, and ||e||_2 &lt;= 3 sigma.</para>
/// </summary>
public static class MoeReference
{
    private const double U = Quantizer.UnitRoundoffFp32;

    public static MoeReferenceResult Compute(MoeLayerWeights w, float[] tokens, IReadOnlyList<Routing>? emulated = null)
    {
        var c = w.Config;
        int h = c.Hidden, count = tokens.Length / h;
        var output = new double[tokens.Length];
        var bound = new double[tokens.Length];
        int flips = 0, mismatches = 0;
        double variance = 0;
        for (int t = 0; t < count; t++)
        {
            var x = new double[h];
            for (int i = 0; i < h; i++)
            {
                x[i] = tokens[t * h + i];
            }

            // Router.
            var s = new double[c.RoutedExperts];
            var es = new double[c.RoutedExperts];
            var ez = new double[c.RoutedExperts];
            for (int e = 0; e < s.Length; e++)
            {
                double z = 0, abs = 0;
                for (int i = 0; i < h; i++)
                {
                    double p = w.Router[e * h + i] * x[i];
                    z += p;
                    abs += Math.Abs(p);
                }

                s[e] = z;
                ez[e] = Gamma(h) * abs;
            }

            if (c.Scoring == ScoringFunction.Sigmoid)
            {
                for (int e = 0; e < s.Length; e++)
                {
                    s[e] = 1 / (1 + Math.Exp(-s[e]));
                    es[e] = ez[e] / 4 + 6 * U * s[e];
                }
            }
            else
            {
                double max = s.Max(), sum = 0, ezMax = ez.Max();
                for (int e = 0; e < s.Length; e++)
                {
                    s[e] = Math.Exp(s[e] - max);
                    sum += s[e];
                }

                for (int e = 0; e < s.Length; e++)
                {
                    s[e] /= sum;
                    es[e] = s[e] * (2 * ezMax + (c.RoutedExperts + 6) * U);
                }
            }

            var sel = new double[s.Length];
            var esel = new double[s.Length];
            for (int e = 0; e < s.Length; e++)
            {
                sel[e] = s[e] + w.Bias[e];
                esel[e] = es[e] + 2 * U * Math.Abs(sel[e]);
            }

            var (experts, _) = Router.Select(c, sel);
            if (emulated is not null && !SameSet(experts, emulated[t].Experts))
            {
                if (Admissible(c, sel, esel, emulated[t]))
                {
                    flips++;
                    experts = emulated[t].Experts;
                }
                else
                {
                    mismatches++;
                }
            }

            double total = 0, totalErr = 0;
            foreach (var e in experts)
            {
                total += s[e];
                totalErr += es[e];
            }

            var o = new double[h];
            var eo = new double[h];
            var vo = new double[h];
            var magnitude = new double[h];
            foreach (var e in experts)
            {
                double wk = s[e] / total * c.RoutedScalingFactor;
                double ew = wk * (es[e] / s[e] + totalErr / total + (experts.Length + 3) * U);
                var input = (Values: (double[])x.Clone(), Err: new double[h], Var: new double[h]);
                Round(input, c.Dispatch);
                Round(input, c.Activations);
                var y = Expert(w.Experts[e], input, c);
                Round(y, c.Combine);
                for (int i = 0; i < h; i++)
                {
                    o[i] += wk * y.Values[i];
                    eo[i] += wk * y.Err[i] + ew * (Math.Abs(y.Values[i]) + y.Err[i]);
                    vo[i] += wk * wk * y.Var[i] + ew * ew * y.Values[i] * y.Values[i] / 3;
                    magnitude[i] += Math.Abs(wk * y.Values[i]);
                }
            }

            if (w.Shared.Length > 0)
            {
                var input = (Values: (double[])x.Clone(), Err: new double[h], Var: new double[h]);
                Round(input, c.Activations);
                var sum = (Values: new double[h], Err: new double[h], Var: new double[h]);
                var sumAbs = new double[h];
                foreach (var expert in w.Shared)
                {
                    var y = Expert(expert, input, c);
                    for (int i = 0; i < h; i++)
                    {
                        sum.Values[i] += y.Values[i];
                        sum.Err[i] += y.Err[i];
                        sum.Var[i] += y.Var[i];
                        sumAbs[i] += Math.Abs(y.Values[i]);
                    }
                }

                for (int i = 0; i < h; i++)
                {
                    sum.Err[i] += Gamma(w.Shared.Length) * sumAbs[i];
                }

                if (w.SharedGate is { } gate)
                {
                    double z = 0, abs = 0;
                    for (int i = 0; i < h; i++)
                    {
                        z += gate[i] * x[i];
                        abs += Math.Abs(gate[i] * x[i]);
                    }

                    double g = 1 / (1 + Math.Exp(-z)), eg = Gamma(h) * abs / 4 + 6 * U * g;
                    for (int i = 0; i < h; i++)
                    {
                        sum.Err[i] = g * sum.Err[i] + eg * (Math.Abs(sum.Values[i]) + sum.Err[i]) + U * Math.Abs(g * sum.Values[i]);
                        sum.Var[i] = g * g * sum.Var[i] + eg * eg * sum.Values[i] * sum.Values[i] / 3;
                        sum.Values[i] *= g;
                    }
                }

                for (int i = 0; i < h; i++)
                {
                    o[i] += sum.Values[i];
                    eo[i] += sum.Err[i];
                    vo[i] += sum.Var[i];
                    magnitude[i] += Math.Abs(sum.Values[i]);
                }
            }

            for (int i = 0; i < h; i++)
            {
                output[t * h + i] = o[i];
                bound[t * h + i] = eo[i] + Gamma(experts.Length + 1) * magnitude[i];
                double acc = (experts.Length + 1) * U * magnitude[i];
                variance += vo[i] + acc * acc / 3;
            }
        }

        return new MoeReferenceResult(output, bound, flips, mismatches, Math.Sqrt(variance));
    }

    private static (double[] Values, double[] Err, double[] Var) Expert(SwiGluExpert expert, (double[] Values, double[] Err, double[] Var) x, MoeLayerConfig c)
    {
        var a = MatVec(expert.Gate, x);
        var b = MatVec(expert.Up, x);
        var hVal = new double[a.Values.Length];
        var hErr = new double[a.Values.Length];
        var hVar = new double[a.Values.Length];
        for (int i = 0; i < hVal.Length; i++)
        {
            double av = a.Values[i], bv = b.Values[i];
            double silu = av / (1 + Math.Exp(-av));
            hVal[i] = silu * bv;
            hErr[i] = 1.1 * a.Err[i] * (Math.Abs(bv) + b.Err[i]) + Math.Abs(silu) * b.Err[i] + 8 * U * Math.Abs(hVal[i]);
            double sig = 1 / (1 + Math.Exp(-av));
            double dsilu = sig * (1 + av * (1 - sig));
            hVar[i] = dsilu * dsilu * bv * bv * a.Var[i] + silu * silu * b.Var[i] + 64 * U * U * hVal[i] * hVal[i] / 3;
        }

        var hidden = (hVal, hErr, hVar);
        Round(hidden, c.Activations);
        return MatVec(expert.Down, hidden);
    }

    private static (double[] Values, double[] Err, double[] Var) MatVec(QuantizedMatrix m, (double[] Values, double[] Err, double[] Var) x)
    {
        var y = new double[m.Rows];
        var e = new double[m.Rows];
        var v = new double[m.Rows];
        for (int r = 0; r < m.Rows; r++)
        {
            double sum = 0, abs = 0, prop = 0, pvar = 0, sq = 0;
            for (int col = 0; col < m.Cols; col++)
            {
                double wv = m.Dequantised[r * m.Cols + col];
                sum += wv * x.Values[col];
                abs += Math.Abs(wv * x.Values[col]);
                prop += Math.Abs(wv) * x.Err[col];
                pvar += wv * wv * x.Var[col];
                sq += wv * x.Values[col] * wv * x.Values[col];
            }

            y[r] = sum;
            e[r] = prop + Gamma(m.Cols) * (abs + prop) + U * Math.Abs(sum);
            // random walk of the n additions (each partial sum at most abs): n u^2 abs^2 / 3, plus the scale multiply
            v[r] = pvar + m.Cols * U * U * abs * abs / 3 + U * U * sum * sum / 3;
        }

        return (y, e, v);
    }

    private static void Round((double[] Values, double[] Err, double[] Var) v, MoeFormat format)
    {
        var magnitudes = new double[v.Values.Length];
        var step = new double[v.Values.Length];
        for (int i = 0; i < magnitudes.Length; i++)
        {
            magnitudes[i] = Math.Abs(v.Values[i]) + v.Err[i];
        }

        Quantizer.AddErrorBound(magnitudes, v.Err, format);
        Quantizer.AddErrorBound(v.Values.Select(Math.Abs).ToArray(), step, format);
        for (int i = 0; i < step.Length; i++)
        {
            v.Var[i] += step[i] * step[i] / 3;
        }
    }

    private static bool SameSet(int[] a, int[] b) => a.Length == b.Length && a.All(b.Contains);

    /// <summary>The float32 selection is admissible when every group it kept ranks within error of every
    /// group it dropped, and every expert it chose within error of every allowed expert it did not.</summary>
    private static bool Admissible(MoeLayerConfig c, double[] sel, double[] err, Routing chosen)
    {
        int per = c.RoutedExperts / c.Groups;
        if (c.Groups > 1)
        {
            var gs = new double[c.Groups];
            var ge = new double[c.Groups];
            for (int g = 0; g < c.Groups; g++)
            {
                var top2 = Enumerable.Range(g * per, per).OrderByDescending(e => sel[e]).Take(2).ToArray();
                gs[g] = sel[top2[0]] + sel[top2[1]];
                ge[g] = 2 * Enumerable.Range(g * per, per).Max(e => err[e]);
            }

            foreach (var kept in chosen.Groups)
            {
                for (int g = 0; g < c.Groups; g++)
                {
                    if (!chosen.Groups.Contains(g) && gs[g] - gs[kept] > ge[g] + ge[kept])
                    {
                        return false;
                    }
                }
            }
        }

        foreach (var e in chosen.Experts)
        {
            for (int n = 0; n < c.RoutedExperts; n++)
            {
                if (!chosen.Experts.Contains(n) && chosen.Groups.Contains(n / per) && sel[n] - sel[e] > err[n] + err[e])
                {
                    return false;
                }
            }
        }

        return true;
    }

    private static double Gamma(int n) => n * U / (1 - n * U);
}
