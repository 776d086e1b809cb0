using MoePlan.Core.Placement;
using MoePlan.Emulation.Emulator;
using MoePlan.Emulation.Moe;

namespace MoePlan.Emulation.Tests;

public class MoeTests
{
    private static MoeLayerConfig DeepSeekLike(MoeFormat weights = MoeFormat.Int8, MoeFormat dispatch = MoeFormat.Fp8) =>
        new(Hidden: 32, ExpertIntermediate: 16, RoutedExperts: 16, TopK: 4, Groups: 4, TopKGroups: 2, SharedExperts: 1,
            SharedIntermediate: 16, RoutedScalingFactor: 2.5, Scoring: ScoringFunction.Sigmoid, SharedExpertGate: false,
            Weights: weights, Activations: MoeFormat.Bf16, Dispatch: dispatch, Combine: MoeFormat.Bf16);

    private static readonly LinkSpec Intra = new(196e9, 1.2e-6);
    private static readonly LinkSpec Inter = new(50e9, 5e-6);

    [Fact]
    public void Router_matches_a_hand_computed_case_and_the_bias_changes_selection_not_weights()
    {
        // 8 experts in 4 groups of 2, top-2 groups, top-3 experts; router = identity so logit_e = x_e.
        // z = [2, 1, 1.5, 1.4, -1, 3, 0, 0.5] -> s = sigmoid(z) = [.881, .731, .818, .802, .269, .953, .5, .622].
        // Group sums: g0 1.612, g1 1.620, g2 1.222, g3 1.122 -> keep g1, g0. Expert 5 has the top score
        // but its group is dropped. Top-3 of {0..3}: 0, 2, 3.
        // Bias +0.1 on expert 1: sel1 = .831, g0 = 1.712 still kept; top-3 becomes 0, 1, 2. The weights
        // use the unbiased s1 = .731: w = s / (s0 + s1 + s2) x 2.5.
        var config = new MoeLayerConfig(8, 4, 8, 3, 4, 2, 0, 4, 2.5, ScoringFunction.Sigmoid, false, MoeFormat.Bf16, MoeFormat.Bf16, MoeFormat.Bf16, MoeFormat.Bf16);
        var router = new float[64];
        for (int e = 0; e < 8; e++)
        {
            router[e * 8 + e] = 1;
        }

        var experts = MoeLayerWeights.Random(config, 1).Experts;
        float[] x = [2f, 1f, 1.5f, 1.4f, -1f, 3f, 0f, 0.5f];
        static double Sig(double z) => 1 / (1 + Math.Exp(-z));

        var plain = Router.Route(MoeLayerWeights.FromParts(config, router, new float[8], experts, [], null), x);
        Assert.Equal([0, 2, 3], plain.Experts);
        Assert.Equal([1, 0], plain.Groups);
        double sum = Sig(2) + Sig(1.5) + Sig(1.4f);
        Assert.Equal(Sig(2) / sum * 2.5, plain.Weights[0], 1e-6);
        Assert.Equal(Sig(1.5) / sum * 2.5, plain.Weights[1], 1e-6);
        Assert.Equal(Sig(1.4f) / sum * 2.5, plain.Weights[2], 1e-6);

        var bias = new float[8];
        bias[1] = 0.1f;
        var biased = Router.Route(MoeLayerWeights.FromParts(config, router, bias, experts, [], null), x);
        Assert.Equal([0, 1, 2], biased.Experts);
        sum = Sig(2) + Sig(1) + Sig(1.5);
        Assert.Equal(Sig(2) / sum * 2.5, biased.Weights[0], 1e-6);
        Assert.Equal(Sig(1) / sum * 2.5, biased.Weights[1], 1e-6);
        Assert.Equal(Sig(1.5) / sum * 2.5, biased.Weights[2], 1e-6);
        Assert.Equal(2.5, biased.Weights.Sum(), 1e-6);
    }

    public static TheoryData<string, int, int, int, bool> EpCases => new()
    {
        // name, devices, devices per node, redundant replicas, uneven
        { "ep4-even", 4, 4, 0, false },
        { "ep4-redundant", 4, 2, 4, false },
        { "ep3-uneven-redundant", 3, 3, 3, true },
        { "ep8-one-per-node", 8, 1, 0, false },
    };

    [Theory]
    [MemberData(nameof(EpCases))]
    public void Ep_sharded_layer_matches_the_fp64_reference_and_the_single_device_run(string name, int devices, int perNode, int redundant, bool uneven)
    {
        var config = name.StartsWith("ep3", StringComparison.Ordinal) ? DeepSeekLike(MoeFormat.Bf16, MoeFormat.Int8) : DeepSeekLike();
        var weights = MoeLayerWeights.Random(config, 42);
        var tokens = Inputs.Normal(24 * config.Hidden, 7);
        var load = Enumerable.Range(0, config.RoutedExperts).Select(e => (double)((e * 7) % 5)).ToArray();
        var placement = Place(config.RoutedExperts, redundant, devices, perNode, load, uneven);
        var cluster = new Cluster(devices, perNode, Intra, Inter, DeviceSpec.Ascend910Die);
        var ep = EpMoeExecutor.Run(cluster, weights, placement, tokens);
        var reference = MoeReference.Compute(weights, tokens, ep.Routings);
        Assert.Equal(0, reference.RoutingMismatches);
        AssertWithin(ep.Output, reference, name);

        // Where a token's expert runs does not change its arithmetic: bitwise equal to one device.
        var single = EpMoeExecutor.Run(new Cluster(1, 1, Intra, Inter, DeviceSpec.Ascend910Die), weights,
            new LayerPlacement(0, config.RoutedExperts, [Enumerable.Range(0, config.RoutedExperts)]), tokens);
        Assert.Equal(single.Output, ep.Output);
        Assert.Equal(0, single.DispatchSeconds);
        Assert.True(ep.DispatchSeconds > 0 && ep.CombineSeconds > 0);
        Assert.Equal(single.DeviceFlops.Sum(), ep.DeviceFlops.Sum());
    }

    [Fact]
    public void Softmax_router_with_gated_shared_expert_matches_the_reference()
    {
        var config = new MoeLayerConfig(48, 24, 12, 4, 1, 1, 1, 40, 1.0, ScoringFunction.Softmax, true,
            MoeFormat.Bf16, MoeFormat.Bf16, MoeFormat.Bf16, MoeFormat.Bf16);
        var weights = MoeLayerWeights.Random(config, 5);
        var tokens = Inputs.Normal(16 * config.Hidden, 8);
        var cluster = new Cluster(2, 1, Intra, Inter, DeviceSpec.Ascend910Die);
        // 12 experts dealt round-robin onto 2 devices, plus a replica of expert 1 on device 0 and of 0 on device 1.
        var placement = new LayerPlacement(0, 12, [[0, 2, 4, 6, 8, 10, 1], [1, 3, 5, 7, 9, 11, 0]]);
        var ep = EpMoeExecutor.Run(cluster, weights, placement, tokens);
        var reference = MoeReference.Compute(weights, tokens, ep.Routings);
        Assert.Equal(0, reference.RoutingMismatches);
        AssertWithin(ep.Output, reference, "softmax");
    }

    [Fact]
    public void Replicas_split_an_experts_tokens_round_robin()
    {
        // Every token goes to expert 0 only (top-1 of 2 with a router that favours it); expert 0 has
        // replicas on both devices, so 10 tokens split 5 / 5 and each device does 5 tokens of work.
        var config = new MoeLayerConfig(8, 4, 2, 1, 1, 1, 0, 4, 1.0, ScoringFunction.Sigmoid, false, MoeFormat.Bf16, MoeFormat.Bf16, MoeFormat.Bf16, MoeFormat.Bf16);
        var random = MoeLayerWeights.Random(config, 3);
        var router = new float[16];
        router[0] = 1; // logit_0 = x_0 > 0 = logit_1 for positive x_0
        var weights = MoeLayerWeights.FromParts(config, router, new float[2], random.Experts, [], null);
        var tokens = Enumerable.Range(0, 80).Select(i => 1f + (i % 8) / 8f).ToArray();
        var placement = new LayerPlacement(0, 2, [[0, 1], [0]]);
        var ep = EpMoeExecutor.Run(new Cluster(2, 2, Intra, Inter, DeviceSpec.Ascend910Die), weights, placement, tokens);
        Assert.All(ep.Routings, r => Assert.Equal([0], r.Experts));
        Assert.Equal(5 * random.Experts[0].FlopsPerToken, ep.DeviceFlops[0]);
        Assert.Equal(5 * random.Experts[0].FlopsPerToken, ep.DeviceFlops[1]);
    }

    [Fact]
    public void The_executor_refuses_a_placement_it_cannot_run()
    {
        var config = new MoeLayerConfig(8, 4, 2, 1, 1, 1, 0, 4, 1.0, ScoringFunction.Sigmoid, false, MoeFormat.Bf16, MoeFormat.Bf16, MoeFormat.Bf16, MoeFormat.Bf16);
        var weights = MoeLayerWeights.Random(config, 3);
        var tokens = Inputs.Normal(4 * config.Hidden, 1);
        EpStepResult Run(LayerPlacement p) => EpMoeExecutor.Run(new Cluster(2, 2, Intra, Inter, DeviceSpec.Ascend910Die), weights, p, tokens);
        Assert.Throws<ArgumentException>(() => Run(new LayerPlacement(0, 2, [[0], [0]]))); // expert 1 on no device
        Assert.Throws<ArgumentException>(() => Run(new LayerPlacement(0, 2, [[0, 0], [1]]))); // two copies on device 0
        Assert.Throws<ArgumentException>(() => Run(new LayerPlacement(0, 2, [[0, 1]]))); // one device for a cluster of two
        Assert.Throws<ArgumentException>(() => Run(new LayerPlacement(0, 3, [[0, 1], [2]]))); // three experts for a layer of two
    }

    [Fact]
    public void All_to_all_copies_data_and_costs_the_slowest_device()
    {
        // 2 nodes x 2 devices; intra 100 B/s, 1 s; inter 10 B/s, 5 s. Messages 0->1 200 B, 0->2 50 B,
        // 3->0 30 B. Device 0: max(200/100, max(50, 30)/10) + max(1, 5) = 10; device 2: 50/10 + 5 = 10;
        // device 1: 2 + 1 = 3; device 3: 3 + 5 = 8. The collective: 10 s.
        var cluster = new Cluster(4, 2, new LinkSpec(100, 1), new LinkSpec(10, 5), DeviceSpec.Ascend910Die);
        float[] data = [1, 2, 3];
        double time = cluster.AllToAll([
            new Cluster.Message(0, 1, "a", data, 200),
            new Cluster.Message(0, 2, "b", data, 50),
            new Cluster.Message(3, 0, "c", data, 30),
            new Cluster.Message(2, 2, "self", data, 1000),
        ]);
        Assert.Equal(10, time, 1e-12);
        Assert.Equal(data, cluster.Memory[1].Get("a"));
        Assert.Equal(data, cluster.Memory[2].Get("self"));
        Assert.Equal(280, cluster.BytesMoved);
    }

    [Theory]
    [InlineData(MoeFormat.Bf16, 1.0f + 1.0f / 256, 1.0f)]
    [InlineData(MoeFormat.Int8, 0.5f, 0.5f)]
    public void Row_rounding_follows_the_format(MoeFormat format, float x, float expected)
    {
        float[] row = [x, 1.0f]; // int8: scale 1/127, 0.5 -> round(63.5) = 64 (even) / 127
        Quantizer.RoundRow(row, format);
        Assert.Equal(format == MoeFormat.Int8 ? 64f / 127f : expected, row[0], 1e-7);
        Assert.Equal(448f, Quantizer.RoundE4M3(1000f));
        Assert.Equal(1.125f, Quantizer.RoundE4M3(1.1f)); // step 2^-3 in [1, 2)
        Assert.Equal(1f / 512, Quantizer.RoundE4M3(0.0025f)); // subnormal step 2^-9
    }

    /// <summary>A placement by Core's default algorithm, as a plan would get one.</summary>
    private static LayerPlacement Place(int experts, int redundant, int devices, int perNode, double[] load, bool uneven)
    {
        var (problem, diagnostics) = PlacementProblem.Create(ExpertLoads.Create([load]), new PlacementShape(experts + redundant, devices, perNode) { AllowUneven = uneven });
        Assert.True(problem is not null, string.Join("; ", diagnostics));
        var placed = PlacementAlgorithms.Place(PlacementAlgorithms.DefaultName, problem);
        Assert.True(placed.Placement is not null, string.Join("; ", placed.Diagnostics));
        return placed.Placement.Layers.Single();
    }

    internal static void AssertWithin(float[] actual, MoeReferenceResult reference, string what)
    {
        double worst = 0;
        for (int i = 0; i < actual.Length; i++)
        {
            double e = Math.Abs(actual[i] - reference.Output[i]);
            Assert.True(e <= reference.Bound[i], $"{what}: element {i}: |{actual[i]} - {reference.Output[i]}| = {e} > {reference.Bound[i]}");
            worst = Math.Max(worst, reference.Bound[i] / (Math.Abs(reference.Output[i]) + 1e-3));
        }

        Assert.True(worst > 0, $"{what}: the bound is zero");
        double norm = Math.Sqrt(actual.Select((x, i) => (x - reference.Output[i]) * (x - reference.Output[i])).Sum());
        Assert.True(norm <= 3 * reference.Sigma, $"{what}: ||e|| = {norm} > 3 sigma = {3 * reference.Sigma}");
    }
}
