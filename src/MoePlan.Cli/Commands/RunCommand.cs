using System.CommandLine;
using System.Globalization;
using System.Text;
using System.Text.Json;
using MoePlan.Core.Catalog;
using MoePlan.Core.Compilation;
using MoePlan.Core.Plan;
using MoePlan.Runtime.Emulator;
using MoePlan.Runtime.Moe;
using Spectre.Console;

namespace MoePlan.Cli.Commands;

/// <summary>
/// <c>moeplan run PLAN --functional</c>: executes a scaled-down model with the plan's structure through
/// the emulated expert-parallel deployment and through a float64 reference, and reports the error per
/// layer against a derived tolerance. The serving simulation (without --functional) is not built yet.
/// </summary>
internal static class RunCommand
{
    /// <summary>Scaled-down sizes. The routing structure (experts, top-k, groups, shared experts,
    /// scaling, scoring, formats, redundancy) is the plan's; widths are reduced for speed.</summary>
    private const int MaxLayers = 4, MaxDevices = 8, TokensPerDevice = 8, Hidden = 64, ExpertWidth = 32;

    /// <summary>Assumed link latencies when the catalog has none (order of published RDMA and
    /// NVLink/UB one-way latencies; they only shift the emulated times).</summary>
    private const double AssumedScaleUpLatency = 2e-6, AssumedScaleOutLatency = 10e-6;

    public static Command Create(TextWriter stdout, TextWriter stderr)
    {
        var file = new Argument<string>("plan") { Description = "Plan file (*.moe)." };
        var functional = new Option<bool>("--functional") { Description = "Run the functional check: emulated EP execution vs a float64 reference." };
        var seed = new Option<int>("--seed") { Description = "Seed of the scaled-down model's weights and tokens.", DefaultValueFactory = _ => 1 };
        var format = CommonOptions.Format("text", "json");
        var command = new Command("run", """
            Run a plan. Today only the functional check exists (--functional): a scaled-down model with the
            plan's MoE structure (experts, top-k, groups, shared experts, formats, redundancy; at most 4 MoE
            layers, hidden 64, expert width 32, MLA at reduced ranks) runs through the emulated decode
            deployment (the plan's EP folded onto at most 8 emulated devices) and through a float64
            reference; every output must lie within the derived tolerance. Exit 0 when it passes, 1 when
            not, 2 for usage errors and plans it cannot scale.

            Examples:
              moeplan run plans/deepseek-v3-h800.moe --functional
              moeplan run plans/qwen1.5-moe-tiny.moe --functional --seed 3 --format json
            """)
        {
            file,
            functional,
            seed,
            format,
        };
        command.SetAction(parse => Run(parse.GetValue(file)!, parse.GetValue(functional), parse.GetValue(seed), parse.GetValue(format)!, stdout, stderr));
        return command;
    }

    public static int Run(string file, bool functional, int seed, string format, TextWriter stdout, TextWriter stderr)
    {
        if (!functional)
        {
            throw new CliUsageException("the serving simulation is not built yet; use 'moeplan run PLAN --functional' for the functional check");
        }

        if (!File.Exists(file))
        {
            throw new CliUsageException($"cannot read '{file}': no such file");
        }

        var result = PlanCompiler.Compile(file, new FileSystemSourceResolver());
        if (result.Plan is null)
        {
            DiagnosticPrinter.WriteText(stderr, result.Diagnostics);
            stderr.WriteLine($"{file}: not run: {result.Diagnostics.Count(d => d.IsError)} error(s)");
            return ExitCodes.Diagnostics;
        }

        FunctionalRun run;
        try
        {
            run = Execute(result.Plan, seed);
        }
        catch (ArgumentException e)
        {
            throw new CliUsageException($"{file}: the functional run cannot scale this plan: {e.Message}");
        }

        if (format == "json")
        {
            WriteJson(stdout, file, run);
        }
        else
        {
            WriteText(stdout, file, run);
        }

        return run.Passed ? ExitCodes.Ok : ExitCodes.Diagnostics;
    }

    private sealed record LayerReport(
        int Layer,
        double MoeRelError,
        double MoeThreeSigmaRel,
        bool MoeWithinBound,
        int RoutingFlips,
        int RoutingMismatches,
        double DispatchUs,
        double ExpertsUs,
        double CombineUs,
        double Utilization,
        long BytesMoved,
        MlaResult? Attention)
    {
        public bool Passed => MoeWithinBound && RoutingMismatches == 0
            && (Attention is null || (Attention.PrefillRelError <= Attention.Tolerance && Attention.DecodeRelError <= Attention.Tolerance));

        public double MaxRelError => Math.Max(MoeRelError, Attention is null ? 0 : Math.Max(Attention.PrefillRelError, Attention.DecodeRelError));
    }

    private sealed record FunctionalRun(
        MoeLayerConfig Config,
        MlaConfig? Mla,
        int PlanLayers,
        int PlanEp,
        int Devices,
        int Fold,
        int DevicesPerNode,
        int Redundant,
        int Tokens,
        IReadOnlyList<string> Notes,
        IReadOnlyList<LayerReport> Layers)
    {
        public bool Passed => Layers.All(l => l.Passed);
        public double MaxRelError => Layers.Max(l => l.MaxRelError);
    }

    private static FunctionalRun Execute(DeploymentPlan plan, int seed)
    {
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

        var reports = new List<LayerReport>();
        for (int layer = 0; layer < layers; layer++)
        {
            var weights = MoeLayerWeights.Random(config, seed * 1000 + layer);
            // Calibration: the batch's routing loads choose which experts get the redundant replicas (as EPLB does with observed loads).
            var load = new double[config.RoutedExperts];
            for (int t = 0; t < tokens; t++)
            {
                foreach (var e in Router.Route(weights, x.AsSpan(t * Hidden, Hidden)).Experts)
                {
                    load[e]++;
                }
            }

            var placement = ExpertPlacement.Create(config.RoutedExperts, redundant, devices, load, uneven: (config.RoutedExperts + redundant) % devices != 0);
            long before = cluster.BytesMoved;
            var step = EpMoeExecutor.Run(cluster, weights, placement, x, layer);
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
            reports.Add(new LayerReport(
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
                attention));

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

        return new FunctionalRun(config, mla, a.Layers, ep, devices, fold, perNode, redundant, tokens, notes, reports);
    }

    private static MoeFormat Format(NumericFormat f) => f switch
    {
        NumericFormat.Bf16 => MoeFormat.Bf16,
        NumericFormat.Fp8 => MoeFormat.Fp8,
        _ => MoeFormat.Int8,
    };

    private static string F(double x, string format) => x.ToString(format, CultureInfo.InvariantCulture);

    private static void WriteText(TextWriter stdout, string file, FunctionalRun run)
    {
        var c = run.Config;
        stdout.WriteLine($"{file}: functional run, {run.Tokens} tokens on {run.Devices} emulated devices: {c.RoutedExperts} experts (+{run.Redundant} redundant), top-{c.TopK}, {c.Groups} groups / top-{c.TopKGroups}, {c.SharedExperts} shared; weights {c.Weights}, dispatch {c.Dispatch}, combine {c.Combine}");
        foreach (var note in run.Notes)
        {
            stdout.WriteLine($"  note: {note}");
        }

        var table = new Table().AddColumns("layer", "MoE rel err", "3 sigma (rel)", "ok", "flips", "attn prefill / decode err", "attn tol", "dispatch us", "experts us", "combine us", "util");
        foreach (var l in run.Layers)
        {
            table.AddRow(
                l.Layer.ToString(CultureInfo.InvariantCulture),
                F(l.MoeRelError, "0.00e+0"),
                F(l.MoeThreeSigmaRel, "0.00e+0"),
                l.Passed ? "yes" : "NO",
                l.RoutingFlips.ToString(CultureInfo.InvariantCulture),
                l.Attention is { } at ? $"{F(at.PrefillRelError, "0.00e+0")} / {F(at.DecodeRelError, "0.00e+0")}" : "-",
                l.Attention is { } a2 ? F(a2.Tolerance, "0.00e+0") : "-",
                F(l.DispatchUs, "0.00"),
                F(l.ExpertsUs, "0.000"),
                F(l.CombineUs, "0.00"),
                F(100 * l.Utilization, "0.00") + " %");
        }

        TableWriter.Write(stdout, table);
        stdout.WriteLine(run.Passed
            ? $"passed: every output within its worst-case bound, every layer's error norm within 3 sigma of the statistical model, attention within tolerance (max relative L2 error {F(run.MaxRelError, "0.00e+0")})"
            : "FAILED: some output is outside its derived bound");
    }

    private static void WriteJson(TextWriter stdout, string file, FunctionalRun run)
    {
        using var stream = new MemoryStream();
        using (var w = new Utf8JsonWriter(stream, DiagnosticPrinter.JsonOptions))
        {
            var c = run.Config;
            w.WriteStartObject();
            w.WriteString("plan", file);
            w.WriteBoolean("passed", run.Passed);
            w.WriteNumber("max_rel_error", run.MaxRelError);
            w.WriteStartObject("scaled_model");
            w.WriteNumber("moe_layers_run", run.Layers.Count);
            w.WriteNumber("plan_layers", run.PlanLayers);
            w.WriteNumber("hidden", c.Hidden);
            w.WriteNumber("expert_intermediate", c.ExpertIntermediate);
            w.WriteNumber("routed_experts", c.RoutedExperts);
            w.WriteNumber("redundant_experts", run.Redundant);
            w.WriteNumber("top_k", c.TopK);
            w.WriteNumber("groups", c.Groups);
            w.WriteNumber("top_k_groups", c.TopKGroups);
            w.WriteNumber("shared_experts", c.SharedExperts);
            w.WriteString("scoring", c.Scoring.ToString().ToLowerInvariant());
            w.WriteString("weights", c.Weights.ToString().ToLowerInvariant());
            w.WriteString("dispatch", c.Dispatch.ToString().ToLowerInvariant());
            w.WriteString("combine", c.Combine.ToString().ToLowerInvariant());
            w.WriteNumber("plan_ep", run.PlanEp);
            w.WriteNumber("emulated_devices", run.Devices);
            w.WriteNumber("plan_ranks_per_device", run.Fold);
            w.WriteNumber("devices_per_node", run.DevicesPerNode);
            w.WriteNumber("tokens", run.Tokens);
            w.WriteEndObject();
            w.WriteStartArray("notes");
            foreach (var note in run.Notes)
            {
                w.WriteStringValue(note);
            }

            w.WriteEndArray();
            w.WriteStartArray("layers");
            foreach (var l in run.Layers)
            {
                w.WriteStartObject();
                w.WriteNumber("layer", l.Layer);
                w.WriteBoolean("passed", l.Passed);
                w.WriteStartObject("moe");
                w.WriteNumber("rel_error", l.MoeRelError);
                w.WriteNumber("three_sigma_rel", l.MoeThreeSigmaRel);
                w.WriteBoolean("within_bound", l.MoeWithinBound); // elementwise worst-case bound and ||e|| <= 3 sigma
                w.WriteNumber("routing_flips", l.RoutingFlips);
                w.WriteNumber("routing_mismatches", l.RoutingMismatches);
                w.WriteNumber("dispatch_us", l.DispatchUs);
                w.WriteNumber("experts_us", l.ExpertsUs);
                w.WriteNumber("combine_us", l.CombineUs);
                w.WriteNumber("utilization", l.Utilization);
                w.WriteNumber("bytes_moved", l.BytesMoved);
                w.WriteEndObject();
                if (l.Attention is { } at)
                {
                    w.WriteStartObject("attention");
                    w.WriteNumber("prefill_rel_error", at.PrefillRelError);
                    w.WriteNumber("decode_rel_error", at.DecodeRelError);
                    w.WriteNumber("tolerance", at.Tolerance);
                    w.WriteNumber("flops", at.Flops);
                    w.WriteEndObject();
                }

                w.WriteEndObject();
            }

            w.WriteEndArray();
            w.WriteEndObject();
        }

        stdout.WriteLine(Encoding.UTF8.GetString(stream.ToArray()));
    }
}
