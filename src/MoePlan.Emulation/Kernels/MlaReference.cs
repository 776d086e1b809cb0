namespace MoePlan.Emulation.Kernels;

/// <summary>Float64 reference of absorbed-MLA decode attention, plain loops, IEEE semantics
/// (NaN and infinities propagate as the formulas say; no special cases).</summary>
public static class MlaReference
{
    /// <summary>Output [(b * Heads + h) * 512 + c] = sum_t softmax_t(scale * q_h . k_t) * v_t[c].</summary>
    public static double[] Compute(MlaDecodeInputs inputs)
    {
        int d = MlaDims.QkDim, dv = MlaDims.VDim;
        var output = new double[inputs.Batch * inputs.Heads * dv];
        var scores = new double[inputs.KvLen];
        for (int b = 0; b < inputs.Batch; b++)
        {
            for (int h = 0; h < inputs.Heads; h++)
            {
                int qBase = (b * inputs.Heads + h) * d;
                double max = double.NegativeInfinity;
                for (int t = 0; t < inputs.KvLen; t++)
                {
                    int kBase = (b * inputs.KvLen + t) * d;
                    double s = 0;
                    for (int i = 0; i < d; i++)
                    {
                        s += (double)inputs.Query[qBase + i] * inputs.KvCache[kBase + i];
                    }

                    scores[t] = s * inputs.SoftmaxScale;
                    max = Math.Max(max, scores[t]);
                }

                double sum = 0;
                int oBase = (b * inputs.Heads + h) * dv;
                for (int t = 0; t < inputs.KvLen; t++)
                {
                    double p = Math.Exp(scores[t] - max);
                    sum += p;
                    int vBase = (b * inputs.KvLen + t) * d;
                    for (int c = 0; c < dv; c++)
                    {
                        output[oBase + c] += p * inputs.KvCache[vBase + c];
                    }
                }

                for (int c = 0; c < dv; c++)
                {
                    output[oBase + c] /= sum;
                }
            }
        }

        return output;
    }

    /// <summary>||actual - reference||_2 / ||reference||_2 over the whole output.</summary>
    public static double RelativeL2Error(ReadOnlySpan<float> actual, ReadOnlySpan<double> reference)
    {
        double num = 0, den = 0;
        for (int i = 0; i < reference.Length; i++)
        {
            double e = actual[i] - reference[i];
            num += e * e;
            den += reference[i] * reference[i];
        }

        return Math.Sqrt(num) / Math.Sqrt(den);
    }
}
