using MoePlan.Core.Catalog;
using MoePlan.Core.Plan;
using MoePlan.Emulation.Emulator;
using MoePlan.Emulation.Moe;

namespace MoePlan.Emulation.Functional;

/// <summary>
/// <c>moeplan run PLAN --functional</c>: executes a scaled-down model with the plan's structure through the emulated
/// expert-parallel decode deployment and through a float64 reference, and reports the error per layer against a derived
/// tolerance. The plan's placement algorithm places each layer's experts on the emulated devices
/// (<see cref="FunctionalPlacement"/>).
/// </summary>
public static class FunctionalCheck
{
    /// <summary>Scaled-down sizes. The routing structure (experts, top-k, groups, shared experts,
    /// scaling, scoring, formats, redundancy) is the plan's; widths are reduced for speed.</summary>
    public const int MaxLayers = 4, MaxDevices = 8, TokensPerDevice = 8, Hidden = 64, ExpertWidth = 32;

    /// <summary>Assumed link latencies when the catalog has none (order of published RDMA and
    /// NVLink/UB one-way latencies; they only shift the emulated times).</summary>
    private const double AssumedScaleUpLatency = 2e-6, AssumedScaleOutLatency = 10e-6;

    /// <summary>
    /// Runs the check with weights and tokens drawn from <paramref name="seed"/>. Throws <see cref="ArgumentException"/>
    /// when the plan cannot be scaled (e.g. its hardware has no BF16 rate or its experts do not fold onto the devices).
    /// </summary>
    public static FunctionalReport Run(DeploymentPlan plan, int seed)
    {
        ArgumentNullException.ThrowIfNull(plan);
        var a = plan.Model.Entry.Architecture;
        var hw = plan.Hardware.Value;
        var notes = new List<string>();
        int ep = plan.Decode.Parallel.ExpertParallel.Value;
        int devices = Enumerable.Range(1, Math.Min(ep, MaxDevices)).Last(d => ep % d == 0);
        int fold = ep / devices;
        int redundant = plan.Placement.RedundantExperts.Value;
        int dies = Math.Max(1, hw.DiesPerPackage);
        int domainRanks = plan.Cluster.ScaleUpDomainDevices * dies;
        int perNode = Math.Clamp(domainRanks / fold, 1, devices);
        int layers = Math.Min(MaxLayers, a.MoeLayers);
        notes.Add($"{layers} of the model's {a.MoeLayers} MoE layers (capped at {MaxLayers} for speed); dense layers are not run");
        notes.Add($"hidden {Hidden} (plan {a.HiddenSize}), expert width {ExpertWidth} (plan {a.MoeIntermediateSize})");
        notes.Add($"decode EP {ep} folded onto {devices} emulated devices ({fold} plan rank(s) per device, {perNode} per scale-up domain): all {a.RoutedExperts} experts and the plan's {redundant} redundant replicas are kept, so each device holds {fold} ranks' worth of expert slots and the redundancy ratio is the plan's");

        // A placement's nodes are whole; the emulated cluster may end on a partial scale-up domain.
        int placementPerNode = Enumerable.Range(1, perNode).Last(d => devices % d == 0);
        var placement = FunctionalPlacement.For(plan, devices, placementPerNode);
        notes.Add($"experts placed per layer by the plan's placement algorithm {placement.Algorithm}, from the batch's routing loads (as EPLB places from observed loads), on the {devices} devices{(placementPerNode == perNode ? "" : $" in nodes of {placementPerNode} (the largest whole division of the {devices} devices)")}");
        notes.Add("expert compute time = FLOPs / the rank's peak BF16 rate (a lower bound); dispatch/combine time = bytes / link bandwidth + latency, per device, slowest device");

        var config = new MoeLayerConfig(
            Hidden,
            ExpertWidth,
            a.RoutedExperts,
            a.TopK,
            a.ExpertGroups,
            a.TopKGroups,
            a.SharedExperts,
            a.SharedExperts > 0 ? Math.Max(8, ExpertWidth * a.SharedExpertIntermediateSize / Math.Max(1, a.MoeIntermediateSize)) : 0,
            a.RoutedScalingFactor,
            string.Equals(a.ScoringFunction, "softmax", StringComparison.OrdinalIgnoreCase) ? ScoringFunction.Softmax : ScoringFunction.Sigmoid,
            a.SharedExpertGate,
            Format(plan.Precision.Experts.Value),
            MoeFormat.Bf16,
            Format(plan.Precision.Dispatch.Value),
            Format(plan.Precision.Combine.Value));
        config.Validate();
        if (plan.Precision.Experts.Value.IsFourBit())
        {
            notes.Add($"experts emulated in FP8, not {plan.Precision.Experts.Value.ToString().ToUpperInvariant()}: the emulator has no FP4 format, and FP8's finer grid makes the measured error a lower bound of the plan's");
        }

        if (config.Scoring == ScoringFunction.Softmax)
        {
            notes.Add("softmax router: top-k weights normalised to sum 1 (Qwen3's norm_topk_prob; the same rule in emulation and reference)");
        }

        MlaConfig? mla = null;
        if (a.Attention is MlaAttention m)
        {
            mla = new MlaConfig(Hidden, Math.Min(m.Heads, 4), m.QLoraRank > 0 ? 32 : 0, 32, 16, 8, 16, MoeFormat.Bf16, Format(plan.Precision.KvCache.Value));
            notes.Add($"MLA at reduced width: {mla.Heads} heads (plan {m.Heads}), q_lora {mla.QLoraRank} (plan {m.QLoraRank}), kv_lora {mla.KvLoraRank} (plan {m.KvLoraRank}), nope/rope/v {mla.NopeDim}/{mla.RopeDim}/{mla.VDim}; prefill non-absorbed over the batch as one sequence, absorbed decode of its last token");
        }
        else
        {
            notes.Add("attention is GQA: not emulated (only MLA is); MoE layers only");
        }

        double peak = (hw.Bf16TeraFlopsPerPackage ?? throw new ArgumentException($"{hw.Name} has no BF16 rate")) * 1e12 / dies;
        var device = DeviceSpec.Ascend910Die with { Name = hw.DisplayName + " rank", ClockHz = peak / (DeviceSpec.Ascend910Die.AiCores * DeviceSpec.Ascend910Die.CubeFlopsPerCycle) };
        double scaleUp = plan.Cluster.ScaleUpBytesPerSecond?.Value ?? hw.ScaleUpBytesPerSecondPerDirection ?? throw new ArgumentException($"{hw.Name} has no scale-up bandwidth");
        double scaleOut = plan.Cluster.ScaleOutBytesPerSecond?.Value ?? hw.ScaleOutBytesPerSecondPerDirection ?? scaleUp;
        double upLatency = hw.ScaleUpLatencyMicroseconds is { } l ? l * 1e-6 : AssumedScaleUpLatency;
        if (hw.ScaleUpLatencyMicroseconds is null)
        {
            notes.Add($"scale-up latency assumed {AssumedScaleUpLatency * 1e6} us (not in the catalog)");
        }

        notes.Add($"scale-out latency assumed {AssumedScaleOutLatency * 1e6} us");
        // A rank's link share: a package's bandwidth is shared by its dies.
        var cluster = new Cluster(devices, perNode, new LinkSpec(scaleUp / dies, upLatency), new LinkSpec(scaleOut / dies, AssumedScaleOutLatency), device);

        int tokens = devices * TokensPerDevice;
        var rng = new Random(seed);
        var x = new float[tokens * Hidden];
        for (int i = 0; i < x.Length; i++)
        {
            x[i] = (float)(Math.Sqrt(-2 * Math.Log(1 - rng.NextDouble())) * Math.Cos(2 * Math.PI * rng.NextDouble()));
        }

        var reports = new List<FunctionalLayerReport>();
        var placedBy = new List<string>();
        for (int layer = 0; layer < layers; layer++)
        {
            var weights = MoeLayerWeights.Random(config, seed * 1000 + layer);
            var load = new double[config.RoutedExperts];
            for (int t = 0; t < tokens; t++)
            {
                foreach (var e in Router.Route(weights, x.AsSpan(t * Hidden, Hidden)).Experts)
                {
                    load[e]++;
                }
            }

            var placed = placement.Place(layer, load);
            placedBy.Add(placed.Algorithm);
            if (placed.Fallback is { } why)
            {
                notes.Add($"layer {layer}: {why}; placed by {placed.Algorithm} instead");
            }

            foreach (var warning in placed.Warnings.Where(w => !notes.Contains($"placement: {w}")))
            {
                notes.Add($"placement: {warning}");
            }

            long before = cluster.BytesMoved;
            var step = EpMoeExecutor.Run(cluster, weights, placed.Placement, x, layer);
            var reference = MoeReference.Compute(weights, x, step.Routings);
            bool within = true;
            double num = 0, den = 0;
            for (int i = 0; i < x.Length; i++)
            {
                double e = Math.Abs(step.Output[i] - reference.Output[i]);
                within &= e <= reference.Bound[i];
                num += e * e;
                den += reference.Output[i] * reference.Output[i];
            }

            within &= Math.Sqrt(num) <= 3 * reference.Sigma;
            MlaResult? attention = mla is null ? null : new MlaLayer(mla, seed * 1000 + 500 + layer).Run(x);
            reports.Add(new FunctionalLayerReport(
                layer,
                Math.Sqrt(num / den),
                3 * reference.Sigma / Math.Sqrt(den),
                within,
                reference.RoutingFlips,
                reference.RoutingMismatches,
                step.DispatchSeconds * 1e6,
                step.ExpertSeconds * 1e6,
                step.CombineSeconds * 1e6,
                step.Utilization(peak),
                cluster.BytesMoved - before,
                attention,
                load,
                placed.Placement));

            // Next layer's input: RMS-normalised residual (float32), the same for emulation and reference.
            for (int t = 0; t < tokens; t++)
            {
                var row = x.AsSpan(t * Hidden, Hidden);
                double ss = 0;
                for (int i = 0; i < Hidden; i++)
                {
                    row[i] += step.Output[t * Hidden + i];
                    ss += (double)row[i] * row[i];
                }

                float inv = (float)(1 / Math.Sqrt(ss / Hidden + 1e-6));
                for (int i = 0; i < Hidden; i++)
                {
                    row[i] *= inv;
                }
            }
        }

        var algorithm = string.Join(", ", placedBy.Distinct(StringComparer.Ordinal));
        return new FunctionalReport(config, mla, a.Layers, ep, devices, fold, perNode, redundant, tokens, algorithm, notes, reports);
    }

    internal static MoeFormat Format(NumericFormat f) => f switch
    {
        NumericFormat.Bf16 => MoeFormat.Bf16,
        NumericFormat.Fp8 or NumericFormat.Nvfp4 or NumericFormat.Mxfp4 => MoeFormat.Fp8,
        _ => MoeFormat.Int8,
    };
}
