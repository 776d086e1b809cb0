using System.CommandLine;
using System.Globalization;
using System.Text;
using System.Text.Json;
using MoePlan.Cli.Files;
using MoePlan.Cli.Options;
using MoePlan.Cli.Terminal;
using MoePlan.Core.Catalog;
using MoePlan.Core.Compilation;
using MoePlan.Core.Diagnostics;
using MoePlan.Core.Emit;
using MoePlan.Core.Plan;
using MoePlan.Core.Text;
using MoePlan.Emulation.Emulator;
using MoePlan.Emulation.Moe;
using MoePlan.Scripting;
using MoePlan.Serving.Proxy;
using MoePlan.Serving.Simulation;
using Spectre.Console;

namespace MoePlan.Cli.Commands;

/// <summary>
/// <c>moeplan run PLAN --functional</c>: executes a scaled-down model with the plan's structure through
/// the emulated expert-parallel deployment and through a float64 reference, and reports the error per
/// layer against a derived tolerance; without --functional, the serving simulation (docs/simulation.md).
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
        var seed = new Option<int?>("--seed") { Description = "Serving: seed of the synthetic workload (default: the plan's). Functional: seed of the weights and tokens (default 1)." };
        var trace = new Option<string?>("--trace") { Description = "Serve this request trace instead of the plan's workload." };
        var traceFormat = new Option<string?>("--trace-format") { Description = "Format of --trace: mooncake (JSONL; rows may carry \"prompt\" text, tokenised with cl100k_base) or azure (CSV); default from the extension (.jsonl, .csv)." };
        traceFormat.AcceptOnlyFromAmong("mooncake", "azure");
        var policy = new Option<string?>("--policy") { Description = $"Proxy policy instead of the plan's: {string.Join(", ", RoutingPolicyCatalog.BuiltNames)}." };
        var compare = new Option<bool>("--compare-policies") { Description = "Serve the same arrivals with every built policy and print one table." };
        var scheduler = new Option<string?>("--scheduler") { Description = "Serve with this C# scheduler script (.csx) instead of the plan's policy; with --compare-policies, an extra row (docs/scheduler-scripts.md)." };
        var schedulerFallback = new Option<bool>("--scheduler-fallback") { Description = "A script hook that fails or runs over its budget takes the default policy's decision instead of ending the run." };
        var maxRequests = new Option<int?>("--max-requests") { Description = "Serve at most N requests (the first N of a trace)." };
        var proxyWorkers = new Option<int?>("--proxy-workers") { Description = "Proxy worker processes instead of the plan's (proxy { workers N }; default 1)." };
        var workerState = new Option<string?>("--worker-state") { Description = "How proxy workers see the deployment: shared (one master, Omni Proxy) or independent (each its own view, plain nginx)." };
        workerState.AcceptOnlyFromAmong("shared", "independent");
        var report = new Option<string?>("--report") { Description = "Write the JSON summary, latency CDFs and queue lengths over time (PNG, SVG, CSV) to this folder." };
        var force = new Option<bool>("--force") { Description = "Replace a non-empty --report folder." };
        var format = CommonOptions.Format("text", "json");
        var command = new Command("run", """
            Run a plan. Without --functional: the serving simulation. Requests (the plan's synthetic workload, its
            trace, or --trace) go through the proxy (its policy and mode, APC-aware routing, tokenizer reuse) to
            prefill instances (continuous chunked batching, a prefix cache in spare HBM), KV transfer, and decode
            instances (continuous batching, MTP); step times come from the cost model. Prints TTFT, TPOT, end-to-end
            latency, throughput, goodput under the SLOs, the APC hit rate, time per lifecycle stage and utilisation
            (docs/simulation.md). Exit 0 when it ran, 1 for plan or trace diagnostics, 2 for usage errors.

            With --functional: a scaled-down model with the plan's MoE structure (experts, top-k, groups, shared
            experts, formats, redundancy; at most 4 MoE layers, hidden 64, expert width 32, MLA at reduced ranks)
            runs through the emulated decode deployment (the plan's EP folded onto at most 8 emulated devices) and
            through a float64 reference; every output must lie within the derived tolerance. Exit 0 when it
            passes, 1 when not, 2 for usage errors and plans it cannot scale.

            Examples:
              moeplan run plans/qwen1.5-moe-tiny.moe
              moeplan run plans/deepseek-v3-h800.moe --max-requests 2000 --format json
              moeplan run plans/qwen1.5-moe-tiny.moe --trace plans/data/mooncake_synthetic_trace.jsonl --compare-policies
              moeplan run plans/deepseek-v3-h800.moe --proxy-workers 4 --worker-state independent --report out/run
              moeplan run plans/qwen1.5-moe-scripted.moe --scheduler plans/schedulers/shortest-prefill-first.csx --compare-policies
              moeplan run plans/deepseek-v3-h800.moe --functional
              moeplan run plans/qwen1.5-moe-tiny.moe --functional --seed 3 --format json
            """)
        {
            file,
            functional,
            seed,
            trace,
            traceFormat,
            policy,
            compare,
            scheduler,
            schedulerFallback,
            maxRequests,
            proxyWorkers,
            workerState,
            report,
            force,
            format,
        };
        command.SetAction(parse =>
        {
            var options = new ServingOptions(parse.GetValue(trace), parse.GetValue(traceFormat), parse.GetValue(policy), parse.GetValue(compare), parse.GetValue(maxRequests), parse.GetValue(seed), parse.GetValue(scheduler), parse.GetValue(schedulerFallback))
            {
                ProxyWorkers = parse.GetValue(proxyWorkers),
                WorkerState = parse.GetValue(workerState),
                Report = parse.GetValue(report),
                Force = parse.GetValue(force),
            };
            return parse.GetValue(functional)
                ? Run(parse.GetValue(file)!, true, parse.GetValue(seed) ?? 1, parse.GetValue(format)!, stdout, stderr)
                : Serve(parse.GetValue(file)!, options, parse.GetValue(format)!, stdout, stderr);
        });
        return command;
    }

    public static int Run(string file, bool functional, int seed, string format, TextWriter stdout, TextWriter stderr)
    {
        if (!functional)
        {
            return Serve(file, new ServingOptions(null, null, null, false, null, seed), format, stdout, stderr);
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

    internal static int Serve(string file, ServingOptions options, string format, TextWriter stdout, TextWriter stderr)
    {
        if (!File.Exists(file))
        {
            throw new CliUsageException($"cannot read '{file}': no such file");
        }

        if (options.MaxRequests is < 1)
        {
            throw new CliUsageException("--max-requests must be 1 or more");
        }

        if (options.ProxyWorkers is < 1 or > ProxyPlan.MaxWorkers)
        {
            throw new CliUsageException($"--proxy-workers must be 1 to {ProxyPlan.MaxWorkers}");
        }

        TraceFile? trace = null;
        if (options.Trace is { } tracePath)
        {
            if (!File.Exists(tracePath))
            {
                throw new CliUsageException($"cannot read trace '{tracePath}': no such file");
            }

            var traceFormat = options.TraceFormat ?? Path.GetExtension(tracePath).ToLowerInvariant() switch
            {
                ".jsonl" => "mooncake",
                ".csv" => "azure",
                _ => throw new CliUsageException($"cannot tell the format of '{tracePath}' from its extension; give --trace-format mooncake|azure"),
            };
            trace = new TraceFile(tracePath, traceFormat == "azure" ? TraceFormat.Azure : TraceFormat.Mooncake);
        }
        else if (options.TraceFormat is not null)
        {
            throw new CliUsageException("--trace-format needs --trace");
        }

        var result = PlanCompiler.Compile(file, new FileSystemSourceResolver());
        if (result.Plan is null)
        {
            DiagnosticPrinter.WriteText(stderr, result.Diagnostics);
            stderr.WriteLine($"{file}: not run: {result.Diagnostics.Count(d => d.IsError)} error(s)");
            return ExitCodes.Diagnostics;
        }

        var plan = result.Plan;
        if (plan.Workload.Trace is { } planTrace && trace is null && !File.Exists(Path.Combine(Path.GetDirectoryName(Path.GetFullPath(file))!, planTrace.Path)))
        {
            throw new CliUsageException($"cannot read the plan's trace '{planTrace.Path}': no such file");
        }

        if (options.ComparePolicies && options.Policy is not null)
        {
            throw new CliUsageException("give --policy or --compare-policies, not both");
        }

        if (options.ResolvePolicies(file, plan, stderr) is not { } policies)
        {
            return ExitCodes.Diagnostics;
        }

        var runs = new List<ServingMetrics>();
        var sims = new List<SimulationResult>();
        var config = ServingConfig.FromPlan(plan);
        config = config with
        {
            ProxyWorkers = options.ProxyWorkers ?? config.ProxyWorkers,
            WorkerState = options.WorkerState switch
            {
                "independent" => ProxyWorkerState.Independent,
                "shared" => ProxyWorkerState.Shared,
                _ => config.WorkerState,
            },
        };
        var progress = ProgressDisplay.Shows(format, stdout);
        foreach (var name in policies.Names)
        {
            // Independent workers each hold their own policy state: one policy object per worker.
            var workerPolicies = new IRoutingPolicy[config.ProxyWorkers];
            for (int w = 0; w < workerPolicies.Length; w++)
            {
                if (!policies.Registry.TryCreate(name, out var created, out var error))
                {
                    throw new CliUsageException($"{file}: {error}");
                }

                workerPolicies[w] = created!;
            }

            var diagnostics = new List<Diagnostic>();
            SimulationResult sim;
            try
            {
                var read = new TraceReadProgress();
                var arrivals = ServingRun.Arrivals(plan, Path.GetDirectoryName(Path.GetFullPath(file))!, trace, options.MaxRequests, options.Seed, diagnostics, read);
                var expected = ExpectedRequests(plan, trace, options);
                // Requests finished out of the known total, else the share of the trace file read.
                sim = !progress
                    ? ServingRun.Simulate(config, plan, result.Cost, workerPolicies, arrivals)
                    : ProgressDisplay.Run($"serving ({name})", expected ?? 1.0, report =>
                        ServingRun.Simulate(config, plan, result.Cost, workerPolicies, arrivals, p => report(expected is null ? read.Fraction : p.Finished)));
            }
            catch (ArgumentException e)
            {
                throw new CliUsageException($"{file}: {e.Message}");
            }
            catch (SchedulerHookException e)
            {
                return DiagnosticPrinter.WriteScriptStopped(file, e, stderr);
            }

            if (diagnostics.Any(d => d.IsError))
            {
                DiagnosticPrinter.WriteText(stderr, diagnostics);
                stderr.WriteLine($"{file}: not run: {diagnostics.Count(d => d.IsError)} error(s) in the trace");
                return ExitCodes.Diagnostics;
            }

            runs.Add(ServingMetrics.From(sim));
            sims.Add(sim);
        }

        if (options.Report is { } reportDirectory)
        {
            var summary = new StringWriter();
            WriteServingJson(summary, file, plan, config, runs, options.ComparePolicies);
            BundleDirectory.Write(reportDirectory, ServingReport.Files(summary.ToString(), sims), options.Force);
        }

        if (format == "json")
        {
            WriteServingJson(stdout, file, plan, config, runs, options.ComparePolicies);
        }
        else if (options.ComparePolicies)
        {
            WriteComparison(stdout, file, plan, config, runs);
        }
        else
        {
            WriteServingText(stdout, file, plan, config, runs[0]);
        }

        if (format != "json" && options.Report is { } written)
        {
            stdout.WriteLine($"  report: {written} (summary.json, latency CDFs and queue lengths as PNG, SVG and CSV)");
        }

        if (policies.FallbackWarning() is { } fallbacks)
        {
            stderr.WriteLine($"moeplan: warning: {fallbacks}");
        }
        return ExitCodes.Ok;
    }

    /// <summary>Requests the run will serve when known up front (synthetic or capped); null for a whole trace.</summary>
    private static long? ExpectedRequests(DeploymentPlan plan, TraceFile? trace, ServingOptions options)
    {
        if (trace is not null || plan.Workload.Trace is not null)
        {
            return options.MaxRequests;
        }

        long? planned = plan.Workload.Requests?.Value;
        return options.MaxRequests is { } cap ? Math.Min(cap, planned ?? cap) : planned;
    }

    private static string Ms(double x) => double.IsNaN(x) ? "-" : NumberText.Format(x, "0.00");

    private static string Describe(string file, DeploymentPlan plan, ServingConfig c, ServingMetrics m) =>
        $"{file}: serving simulation, policy {m.Policy}, {plan.Proxy.Mode.Value.ToString().ToLowerInvariant()} mode, APC-aware routing {(c.ApcAware ? "on" : "off")}, tokenizer reuse {(c.TokenizerReuse ? "on" : "off")}{Workers(c)}";

    private static string Workers(ServingConfig c) =>
        c.ProxyWorkers == 1 && c.WorkerState == ProxyWorkerState.Shared
            ? ""
            : $", {c.ProxyWorkers} proxy worker(s) with {(c.WorkerState == ProxyWorkerState.Shared ? "shared state (one master decides)" : "independent views (each its own counters)")}";

    private static void WriteDeployment(TextWriter stdout, ServingConfig c)
    {
        stdout.WriteLine($"  prefill: {c.PrefillInstances} instance(s), {c.PrefillTokenCap:N0} tokens per step, prefix cache {c.PrefixCacheBlocks:N0} blocks of 512 tokens each");
        stdout.WriteLine($"  decode: {c.DecodeInstances} instance(s), {c.DecodeSequenceCap:N0} sequences and {c.DecodeTokenCap:N0} KV tokens each, {NumberText.Format(c.TokensPerStep, "0.###")} tokens per step per sequence");
        stdout.WriteLine($"  KV transfer {NumberText.Format(c.KvTransferMillisecondsPerToken * 1000, "0.000")} ms per 1,000 prompt tokens; tokenisation {NumberText.Format(c.TokenizeMillisecondsPerToken * 1000, "0.###")} us per token (assumed), counted {(c.TokenizerReuse ? "once" : "twice")}");
    }

    private static void WriteServingText(TextWriter stdout, string file, DeploymentPlan plan, ServingConfig c, ServingMetrics m)
    {
        stdout.WriteLine(Describe(file, plan, c, m));
        WriteDeployment(stdout, c);
        stdout.WriteLine($"  requests: {m.Arrived:N0} arrived, {m.Completed:N0} completed, {m.Rejected:N0} rejected (larger than a decode instance's KV, or not admitted by the policy), over {NumberText.Format(m.DurationSeconds, "0.###")} s");
        var table = new Table().AddColumns("latency (ms)", "p50", "p90", "p99", "mean");
        foreach (var (name, s) in new[] { ("TTFT", m.TtftMilliseconds), ("TPOT", m.TpotMilliseconds), ("end to end", m.E2eMilliseconds) })
        {
            table.AddRow(name, Ms(s.P50), Ms(s.P90), Ms(s.P99), Ms(s.Mean));
        }

        TableWriter.Write(stdout, table);
        stdout.WriteLine($"  throughput: {NumberText.Format(m.RequestsPerSecond, "0.###")} requests/s, {NumberText.Format(m.InputTokensPerSecond, "0")} input tokens/s, {NumberText.Format(m.OutputTokensPerSecond, "0")} output tokens/s");
        stdout.WriteLine($"  goodput: {NumberText.Format(m.GoodputRequestsPerSecond, "0.###")} requests/s within {Slo(plan)}");
        stdout.WriteLine($"  APC hit rate: {NumberText.Format(100 * m.ApcHitRate, "0.0")} % of input tokens");
        var stages = new Table().AddColumns("stage", "mean ms in it", "what takes the time");
        foreach (var stage in RequestStages.Timed)
        {
            stages.AddRow(RequestStages.Name(stage), Ms(m.StageMeanMilliseconds[(int)stage]), RequestStages.TimeSpentOn(stage));
        }

        TableWriter.Write(stdout, stages);
        stdout.WriteLine($"  utilisation: prefill {string.Join(", ", m.PrefillUtilization.Select(u => NumberText.Format(100 * u, "0.0") + " %"))}; decode {string.Join(", ", m.DecodeUtilization.Select(u => NumberText.Format(100 * u, "0.0") + " %"))}");
    }

    private static string Slo(DeploymentPlan plan)
    {
        var parts = new List<string>();
        if (plan.Slo.Ttft is { } t)
        {
            parts.Add($"TTFT {(t.Inclusive ? "<=" : "<")} {NumberText.Format(t.Milliseconds, "0.###")} ms");
        }

        if (plan.Slo.Tpot is { } p)
        {
            parts.Add($"TPOT {(p.Inclusive ? "<=" : "<")} {NumberText.Format(p.Milliseconds, "0.###")} ms");
        }

        return parts.Count == 0 ? "no SLOs (every completed request counts)" : "per request " + string.Join(" and ", parts);
    }

    private static void WriteComparison(TextWriter stdout, string file, DeploymentPlan plan, ServingConfig c, IReadOnlyList<ServingMetrics> runs)
    {
        stdout.WriteLine($"{file}: serving simulation, every built policy on the same arrivals, {plan.Proxy.Mode.Value.ToString().ToLowerInvariant()} mode");
        WriteDeployment(stdout, c);
        var table = new Table().AddColumns("policy", "completed", "rejected", "TTFT p50", "TTFT p99", "TPOT p50", "TPOT p99", "E2E p99", "out tok/s", "goodput req/s", "APC hit");
        foreach (var m in runs)
        {
            table.AddRow(
                m.Policy,
                m.Completed.ToString("N0", CultureInfo.InvariantCulture),
                m.Rejected.ToString("N0", CultureInfo.InvariantCulture),
                Ms(m.TtftMilliseconds.P50),
                Ms(m.TtftMilliseconds.P99),
                Ms(m.TpotMilliseconds.P50),
                Ms(m.TpotMilliseconds.P99),
                Ms(m.E2eMilliseconds.P99),
                NumberText.Format(m.OutputTokensPerSecond, "0"),
                NumberText.Format(m.GoodputRequestsPerSecond, "0.###"),
                NumberText.Format(100 * m.ApcHitRate, "0.0") + " %");
        }

        TableWriter.Write(stdout, table);
        stdout.WriteLine("  latencies in ms; goodput within " + Slo(plan));
    }

    private static void WriteServingJson(TextWriter stdout, string file, DeploymentPlan plan, ServingConfig c, IReadOnlyList<ServingMetrics> runs, bool compare)
    {
        using var stream = new MemoryStream();
        using (var w = new Utf8JsonWriter(stream, JsonOutput.Options))
        {
            w.WriteStartObject();
            w.WriteString("plan", file);
            w.WriteString("mode", plan.Proxy.Mode.Value.ToString().ToLowerInvariant());
            w.WriteStartObject("deployment");
            w.WriteNumber("prefill_instances", c.PrefillInstances);
            w.WriteNumber("prefill_tokens_per_step", c.PrefillTokenCap);
            w.WriteNumber("prefix_cache_blocks", c.PrefixCacheBlocks);
            w.WriteNumber("decode_instances", c.DecodeInstances);
            w.WriteNumber("decode_sequences", c.DecodeSequenceCap);
            w.WriteNumber("decode_kv_tokens", c.DecodeTokenCap);
            w.WriteNumber("decode_tokens_per_step", c.TokensPerStep);
            w.WriteNumber("kv_transfer_ms_per_token", c.KvTransferMillisecondsPerToken);
            w.WriteNumber("tokenize_ms_per_token", c.TokenizeMillisecondsPerToken);
            w.WriteBoolean("apc_aware", c.ApcAware);
            w.WriteBoolean("tokenizer_reuse", c.TokenizerReuse);
            w.WriteNumber("prefill_nic_links", c.PrefillNicLinks);
            w.WriteNumber("decode_nic_links", c.DecodeNicLinks);
            w.WriteNumber("proxy_workers", c.ProxyWorkers);
            w.WriteString("worker_state", c.WorkerState == ProxyWorkerState.Shared ? "shared" : "independent");
            w.WriteEndObject();
            if (compare)
            {
                w.WriteStartArray("policies");
                foreach (var m in runs)
                {
                    w.WriteStartObject();
                    WriteMetrics(w, m);
                    w.WriteEndObject();
                }

                w.WriteEndArray();
            }
            else
            {
                WriteMetrics(w, runs[0]);
            }

            w.WriteEndObject();
        }

        stdout.WriteLine(Encoding.UTF8.GetString(stream.ToArray()));
    }

    private static void WriteMetrics(Utf8JsonWriter w, ServingMetrics m)
    {
        w.WriteString("policy", m.Policy);
        w.WriteStartObject("requests");
        w.WriteNumber("arrived", m.Arrived);
        w.WriteNumber("completed", m.Completed);
        w.WriteNumber("rejected", m.Rejected);
        w.WriteEndObject();
        w.WriteNumber("duration_s", m.DurationSeconds);
        w.WriteNumber("events", m.Events);
        Latency(w, "ttft_ms", m.TtftMilliseconds);
        Latency(w, "tpot_ms", m.TpotMilliseconds);
        Latency(w, "e2e_ms", m.E2eMilliseconds);
        w.WriteStartObject("throughput");
        w.WriteNumber("requests_per_s", m.RequestsPerSecond);
        w.WriteNumber("input_tokens_per_s", m.InputTokensPerSecond);
        w.WriteNumber("output_tokens_per_s", m.OutputTokensPerSecond);
        w.WriteNumberOrNull("output_tokens_per_s_while_arriving", m.OutputTokensPerSecondWhileArriving);
        w.WriteEndObject();
        w.WriteNumber("goodput_requests_per_s", m.GoodputRequestsPerSecond);
        w.WriteNumber("apc_hit_rate", m.ApcHitRate);
        w.WriteStartObject("stages_ms");
        foreach (var stage in RequestStages.Timed)
        {
            w.WriteNumberOrNull(RequestStages.Name(stage), m.StageMeanMilliseconds[(int)stage]);
        }

        w.WriteEndObject();
        w.WriteStartObject("utilization");
        w.WriteStartArray("prefill");
        foreach (var u in m.PrefillUtilization)
        {
            w.WriteNumberValue(u);
        }

        w.WriteEndArray();
        w.WriteStartArray("decode");
        foreach (var u in m.DecodeUtilization)
        {
            w.WriteNumberValue(u);
        }

        w.WriteEndArray();
        w.WriteEndObject();
    }

    private static void Latency(Utf8JsonWriter w, string name, LatencySummary s)
    {
        w.WriteStartObject(name);
        w.WriteNumber("count", s.Count);
        w.WriteNumberOrNull("p50", s.P50);
        w.WriteNumberOrNull("p90", s.P90);
        w.WriteNumberOrNull("p99", s.P99);
        w.WriteNumberOrNull("mean", s.Mean);
        w.WriteEndObject();
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
                NumberText.Format(l.MoeRelError, "0.00e+0"),
                NumberText.Format(l.MoeThreeSigmaRel, "0.00e+0"),
                l.Passed ? "yes" : "NO",
                l.RoutingFlips.ToString(CultureInfo.InvariantCulture),
                l.Attention is { } at ? $"{NumberText.Format(at.PrefillRelError, "0.00e+0")} / {NumberText.Format(at.DecodeRelError, "0.00e+0")}" : "-",
                l.Attention is { } a2 ? NumberText.Format(a2.Tolerance, "0.00e+0") : "-",
                NumberText.Format(l.DispatchUs, "0.00"),
                NumberText.Format(l.ExpertsUs, "0.000"),
                NumberText.Format(l.CombineUs, "0.00"),
                NumberText.Format(100 * l.Utilization, "0.00") + " %");
        }

        TableWriter.Write(stdout, table);
        stdout.WriteLine(run.Passed
            ? $"passed: every output within its worst-case bound, every layer's error norm within 3 sigma of the statistical model, attention within tolerance (max relative L2 error {NumberText.Format(run.MaxRelError, "0.00e+0")})"
            : "FAILED: some output is outside its derived bound");
    }

    private static void WriteJson(TextWriter stdout, string file, FunctionalRun run)
    {
        using var stream = new MemoryStream();
        using (var w = new Utf8JsonWriter(stream, JsonOutput.Options))
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
