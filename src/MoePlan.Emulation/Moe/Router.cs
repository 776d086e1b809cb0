namespace MoePlan.Emulation.Moe;

/// <summary>Which experts a token goes to and with what weights.</summary>
public sealed record Routing(int[] Experts, float[] Weights, int[] Groups);

/// <summary>
/// DeepSeek-V3 routing (noaux_tc): scores s = sigmoid(W_r x) (or softmax for Qwen); selection scores
/// s + bias (the bias steers selection only); the groups are ranked by the sum of their two largest
/// selection scores and the top <c>TopKGroups</c> kept; the top-k experts by selection score within
/// those groups are chosen (ties: lower expert index); their weights are the unbiased scores
/// normalised to sum 1 and multiplied by <c>RoutedScalingFactor</c>. float32 throughout.
/// </summary>
public static class Router
{
    public static Routing Route(MoeLayerWeights w, ReadOnlySpan<float> x)
    {
        var c = w.Config;
        var scores = new float[c.RoutedExperts];
        for (int e = 0; e < scores.Length; e++)
        {
            scores[e] = Emulator.HostSimd.Dot(w.Router.AsSpan(e * c.Hidden, c.Hidden), x);
        }

        if (c.Scoring == ScoringFunction.Sigmoid)
        {
            for (int e = 0; e < scores.Length; e++)
            {
                scores[e] = 1f / (1f + MathF.Exp(-scores[e]));
            }
        }
        else
        {
            float max = scores.Max(), sum = 0;
            for (int e = 0; e < scores.Length; e++)
            {
                scores[e] = MathF.Exp(scores[e] - max);
                sum += scores[e];
            }

            for (int e = 0; e < scores.Length; e++)
            {
                scores[e] /= sum;
            }
        }

        var selection = new double[scores.Length];
        for (int e = 0; e < scores.Length; e++)
        {
            selection[e] = scores[e] + w.Bias[e]; // float32 add, widened
            selection[e] = (float)selection[e];
        }

        var (experts, groups) = Select(c, selection);
        var weights = new float[experts.Length];
        float total = 0;
        foreach (var e in experts)
        {
            total += scores[e];
        }

        for (int i = 0; i < experts.Length; i++)
        {
            weights[i] = scores[experts[i]] / total * (float)c.RoutedScalingFactor;
        }

        return new Routing(experts, weights, groups);
    }

    /// <summary>Group-limited top-k on selection scores (shared by the float32 router and the float64
    /// reference). Returns the chosen experts (in descending selection order) and the kept groups.</summary>
    public static (int[] Experts, int[] Groups) Select(MoeLayerConfig c, ReadOnlySpan<double> selection)
    {
        int perGroup = c.RoutedExperts / c.Groups;
        var groupScore = new double[c.Groups];
        for (int g = 0; g < c.Groups; g++)
        {
            if (c.Groups == 1)
            {
                break;
            }

            double first = double.NegativeInfinity, second = double.NegativeInfinity;
            for (int e = g * perGroup; e < (g + 1) * perGroup; e++)
            {
                double s = selection[e];
                if (s > first)
                {
                    second = first;
                    first = s;
                }
                else if (s > second)
                {
                    second = s;
                }
            }

            groupScore[g] = first + second;
        }

        var groups = TopIndices(groupScore, c.TopKGroups);
        var allowed = new bool[c.RoutedExperts];
        foreach (var g in groups)
        {
            for (int e = g * perGroup; e < (g + 1) * perGroup; e++)
            {
                allowed[e] = true;
            }
        }

        var masked = new double[c.RoutedExperts];
        for (int e = 0; e < masked.Length; e++)
        {
            masked[e] = allowed[e] ? selection[e] : double.NegativeInfinity;
        }

        return (TopIndices(masked, c.TopK), groups);
    }

    private static int[] TopIndices(double[] values, int k) =>
        Enumerable.Range(0, values.Length).OrderByDescending(i => values[i]).ThenBy(i => i).Take(k).ToArray();
}
