using System.CommandLine;
using System.Globalization;
using MoePlan.Cli.Files;
using MoePlan.Cli.Options;
using MoePlan.Cli.Terminal;
using MoePlan.Core.Compilation;
using MoePlan.Core.Diagnostics;
using MoePlan.Core.Plan;
using MoePlan.Core.Text;
using MoePlan.Emulation.Functional;
using Spectre.Console;

namespace MoePlan.Cli.Commands;

/// <summary>
/// <c>moeplan run PLAN</c>: the serving simulation (docs/simulation.md, <see cref="Serving.Simulation.ServingSession"/>);
/// with --functional, the functional check of the emulated EP deployment against a float64 reference
/// (<see cref="FunctionalCheck"/>). This verb parses options, calls one of those, and prints.
/// </summary>
internal static partial class RunCommand
{
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
        var set = PlanOverrideOption.Create();
        command.Options.Add(set);
        command.SetAction(parse =>
        {
            var options = new ServingOptions(parse.GetValue(trace), parse.GetValue(traceFormat), parse.GetValue(policy), parse.GetValue(compare), parse.GetValue(maxRequests), parse.GetValue(seed), parse.GetValue(scheduler), parse.GetValue(schedulerFallback))
            {
                ProxyWorkers = parse.GetValue(proxyWorkers),
                WorkerState = parse.GetValue(workerState),
                Report = parse.GetValue(report),
                Force = parse.GetValue(force),
                Set = parse.GetValue(set) ?? [],
            };
            return parse.GetValue(functional)
                ? Functional(parse.GetValue(file)!, parse.GetValue(seed) ?? 1, parse.GetValue(format)!, stdout, stderr, parse.GetValue(set))
                : Serve(parse.GetValue(file)!, options, parse.GetValue(format)!, stdout, stderr);
        });
        return command;
    }

    public static int Functional(string file, int seed, string format, TextWriter stdout, TextWriter stderr, string[]? set = null)
    {
        InputPaths.RequireFile(file);

        var result = PlanCompiler.Compile(file, PlanOverrideOption.Resolver(set, file));
        if (result.Plan is null)
        {
            return NotRun(stderr, file, result.Diagnostics, "");
        }

        FunctionalReport run;
        try
        {
            run = FunctionalCheck.Run(result.Plan, seed);
        }
        catch (ArgumentException e)
        {
            throw new CliUsageException($"{file}: the functional run cannot scale this plan: {e.Message}");
        }

        if (format == "json")
        {
            stdout.WriteLine(FunctionalReportJson.Write(file, run));
        }
        else
        {
            WriteFunctionalText(stdout, file, run);
        }

        return run.Passed ? ExitCodes.Ok : ExitCodes.Diagnostics;
    }

    /// <summary>Prints located errors that stopped a run, then how many (<paramref name="where"/>: " in the trace", ...).</summary>
    private static int NotRun(TextWriter stderr, string file, IReadOnlyList<Diagnostic> diagnostics, string where)
    {
        DiagnosticPrinter.WriteText(stderr, diagnostics);
        stderr.WriteLine($"{file}: not run: {diagnostics.Count(d => d.IsError)} error(s){where}");
        return ExitCodes.Diagnostics;
    }

    private static void WriteFunctionalText(TextWriter stdout, string file, FunctionalReport run)
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
}
