namespace MoePlan.Emulation.Moe;

/// <summary>How the router turns logits into scores.</summary>
public enum ScoringFunction
{
    /// <summary>DeepSeek-V3: s = sigmoid(logit); selection on s + bias; weights s normalised over the top-k.</summary>
    Sigmoid,

    /// <summary>Qwen: s = softmax(logits); weights s normalised over the top-k.</summary>
    Softmax,
}

/// <summary>Shape and formats of one MoE layer.</summary>
/// <param name="Groups">n_group; 1 = routing is not group-limited.</param>
/// <param name="TopKGroups">topk_group: groups kept, ranked by the sum of each group's top-2 selection scores.</param>
/// <param name="Weights">Format of the expert weights (bf16, fp8 or int8 per output channel).</param>
/// <param name="Activations">Format of the matrix unit's activation inputs (bf16 on the devices we model).</param>
/// <param name="Dispatch">Format of the token rows sent to the experts.</param>
/// <param name="Combine">Format of the expert outputs sent back.</param>
public sealed record MoeLayerConfig(
    int Hidden,
    int ExpertIntermediate,
    int RoutedExperts,
    int TopK,
    int Groups,
    int TopKGroups,
    int SharedExperts,
    int SharedIntermediate,
    double RoutedScalingFactor,
    ScoringFunction Scoring,
    bool SharedExpertGate,
    MoeFormat Weights,
    MoeFormat Activations,
    MoeFormat Dispatch,
    MoeFormat Combine)
{
    /// <summary>Throws <see cref="ArgumentException"/> when the routing shape is impossible.</summary>
    public void Validate()
    {
        if (Hidden <= 0 || ExpertIntermediate <= 0 || RoutedExperts <= 0 || TopK <= 0 || Groups <= 0 || TopKGroups <= 0)
        {
            throw new ArgumentException("MoE sizes must be positive.");
        }

        if (RoutedExperts % Groups != 0)
        {
            throw new ArgumentException($"{Groups} groups do not divide {RoutedExperts} experts.");
        }

        if (TopKGroups > Groups || TopK > TopKGroups * (RoutedExperts / Groups))
        {
            throw new ArgumentException($"top-{TopK} of the experts in {TopKGroups} of {Groups} groups is impossible.");
        }

        if (Groups > 1 && RoutedExperts / Groups < 2)
        {
            throw new ArgumentException("group-limited routing ranks groups by their top-2 scores: groups need 2 experts.");
        }
    }
}

/// <summary>The weights of one MoE layer: router (float32, as DeepSeek keeps it), bias correction,
/// routed and shared experts, optional shared-expert gate.</summary>
public sealed class MoeLayerWeights
{
    private MoeLayerWeights(MoeLayerConfig config, float[] router, float[] bias, SwiGluExpert[] experts, SwiGluExpert[] shared, float[]? sharedGate)
    {
        Config = config;
        Router = router;
        Bias = bias;
        Experts = experts;
        Shared = shared;
        SharedGate = sharedGate;
    }

    /// <summary>Weights given explicitly (router [E x H], bias [E]).</summary>
    public static MoeLayerWeights FromParts(MoeLayerConfig config, float[] router, float[] bias, SwiGluExpert[] experts, SwiGluExpert[] shared, float[]? sharedGate)
    {
        config.Validate();
        if (router.Length != config.RoutedExperts * config.Hidden || bias.Length != config.RoutedExperts || experts.Length != config.RoutedExperts)
        {
            throw new ArgumentException("router, bias or experts do not match the configuration.");
        }

        return new MoeLayerWeights(config, router, bias, experts, shared, sharedGate);
    }

    public MoeLayerConfig Config { get; }

    /// <summary>Router weight [E x H], float32.</summary>
    public float[] Router { get; }

    /// <summary>Per-expert selection bias (e_score_correction_bias); zero for softmax routers.</summary>
    public float[] Bias { get; }

    public SwiGluExpert[] Experts { get; }
    public SwiGluExpert[] Shared { get; }

    /// <summary>Shared-expert gate [H] (Qwen1.5-MoE) or null.</summary>
    public float[]? SharedGate { get; }

    /// <summary>Seeded weights: normal entries scaled 1/sqrt(fan-in) so activations stay O(1); router
    /// rows scaled so that logits are O(1); sigmoid routers get a bias of N(0, 0.05^2) (enough to
    /// change some selections, as the trained correction does).</summary>
    public static MoeLayerWeights Random(MoeLayerConfig c, int seed)
    {
        c.Validate();
        var rng = new Random(seed);
        float[] Normal(int n, double scale)
        {
            var v = new float[n];
            for (int i = 0; i < n; i++)
            {
                double u1 = 1.0 - rng.NextDouble(), u2 = rng.NextDouble();
                v[i] = (float)(scale * Math.Sqrt(-2 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2));
            }

            return v;
        }

        SwiGluExpert Expert(int inter) => new(
            new QuantizedMatrix(inter, c.Hidden, Normal(inter * c.Hidden, 1 / Math.Sqrt(c.Hidden)), c.Weights),
            new QuantizedMatrix(inter, c.Hidden, Normal(inter * c.Hidden, 1 / Math.Sqrt(c.Hidden)), c.Weights),
            new QuantizedMatrix(c.Hidden, inter, Normal(c.Hidden * inter, 1 / Math.Sqrt(inter)), c.Weights));

        var router = Normal(c.RoutedExperts * c.Hidden, 1 / Math.Sqrt(c.Hidden));
        var bias = c.Scoring == ScoringFunction.Sigmoid ? Normal(c.RoutedExperts, 0.05) : new float[c.RoutedExperts];
        var experts = Enumerable.Range(0, c.RoutedExperts).Select(_ => Expert(c.ExpertIntermediate)).ToArray();
        var shared = Enumerable.Range(0, c.SharedExperts).Select(_ => Expert(c.SharedIntermediate)).ToArray();
        var gate = c.SharedExpertGate && c.SharedExperts > 0 ? Normal(c.Hidden, 1 / Math.Sqrt(c.Hidden)) : null;
        return new MoeLayerWeights(c, router, bias, experts, shared, gate);
    }

    /// <summary>Bytes of the routed experts' weights.</summary>
    public long ExpertBytes(int expert) => Experts[expert].Gate.Bytes + Experts[expert].Up.Bytes + Experts[expert].Down.Bytes;
}
