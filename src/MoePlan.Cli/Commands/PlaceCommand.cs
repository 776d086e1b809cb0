using System.CommandLine;
using System.Globalization;
using MoePlan.Cli.Files;
using MoePlan.Cli.Options;
using MoePlan.Cli.Terminal;
using MoePlan.Core.Emit;
using MoePlan.Core.Placement;
using MoePlan.Core.Plan;
using MoePlan.Core.Text;
using Spectre.Console;

namespace MoePlan.Cli.Commands;

/// <summary>
/// <c>moeplan place PLAN</c>: place a pool's experts (the plan's algorithm and loads, or overrides), print the imbalance
/// and cross-node metrics, measure the placement on other loads, compare algorithms, or write placement.json and the
/// engines' expert-map files. The sequence is <see cref="PlacementRun"/>; this file parses and prints.
/// </summary>
internal static class PlaceCommand
{
    public sealed record Options(
        string Plan,
        string[] Load,
        ulong? Synthetic,
        string? Algorithm,
        string Pool,
        string? Output,
        bool Force,
        string Format,
        bool Compare,
        string[] Evaluate,
        string Objective = "worst-case")
    {
        /// <summary>The <c>--set</c> overrides of the plan's settings.</summary>
        public IReadOnlyList<string> Set { get; init; } = [];
    }

    public static Command Create(TextWriter stdout, TextWriter stderr)
    {
        var plan = new Argument<string>("plan") { Description = "Plan file (*.moe)." };
        var load = new Option<string[]>("--load")
        {
            Description = "Expert-load file(s) instead of the plan's (CSV layer,expert,load; JSON [[...]]; SGLang {\"logical_count\": ...}); several: place for all of them (robust).",
            HelpName = "FILE",
            AllowMultipleArgumentsPerToken = true,
        };
        var objective = new Option<string>("--objective") { Description = "With several --load files, what moeplan minimises over them: the expected or the worst-case busiest rank.", DefaultValueFactory = _ => "worst-case" };
        objective.AcceptOnlyFromAmong("expected", "worst-case");
        var synthetic = new Option<ulong?>("--synthetic") { Description = "Synthetic loads with this seed instead of the plan's loads.", HelpName = "SEED" };
        var algorithm = new Option<string?>("--algorithm", "-a")
        {
            Description = $"Placement algorithm instead of the plan's: {string.Join(", ", PlacementAlgorithms.Names)}.",
            HelpName = "NAME",
        };
        var pool = new Option<string>("--pool") { Description = "The pool to place: decode or prefill; serve for an aggregated plan (decode places it too).", DefaultValueFactory = _ => "decode" };
        pool.AcceptOnlyFromAmong("decode", "prefill", "serve");
        var output = new Option<string?>("--output", "-o")
        {
            Description = $"Write {PlacementRun.PlacementFile}, {PlacementRun.VllmAscendFile} and {PlacementRun.SglangFile} to this folder (refused if not empty, unless --force).",
            HelpName = "DIR",
        };
        var force = new Option<bool>("--force") { Description = "Replace a non-empty output folder." };
        var format = CommonOptions.Format("text", "json");
        var compare = new Option<bool>("--compare") { Description = "Run every algorithm on the same loads and print one table (JSON: an array)." };
        var evaluate = new Option<string[]>("--evaluate")
        {
            Description = "Measure the placement on these expert-load files too (placed on one recording, run on others): per file and the mean.",
            HelpName = "FILE",
            AllowMultipleArgumentsPerToken = true,
        };
        var command = new Command("place", """
            Place the experts of a plan's pool on its expert-parallel ranks and report how balanced the placement is:
            imbalance (busiest rank's load / mean rank load; mean and worst over the MoE layers) and the share of
            token dispatches that leave their node. Loads and algorithm come from the plan's placement block unless
            overridden; --evaluate measures the placement on other load files (the traffic that follows the recording).
            Exit code 0 ok, 1 when there are error diagnostics, 2 for usage or I/O errors.

            Examples:
              moeplan place plans/deepseek-v3-h800.moe
              moeplan place plans/deepseek-v3-h800.moe --pool prefill --compare
              moeplan place plans/deepseek-v3-h800.moe --load plans/data/deepseek-v3-sglang-decode_in2000out100.json --algorithm omni --format json
              moeplan place plans/deepseek-v3-h800.moe --pool prefill --compare --load plans/data/deepseek-v3-sglang-prefill_in1024.json --evaluate plans/data/deepseek-v3-sglang-prefill_in2048.json
              moeplan place plans/deepseek-v3-sglang-h100.moe --synthetic 42 -o out/placement --force
              moeplan place plans/deepseek-v3-h800.moe --pool prefill --compare --load A.json B.json C.json --evaluate D.json
            """)
        {
            plan,
            load,
            synthetic,
            algorithm,
            pool,
            output,
            force,
            format,
            compare,
            evaluate,
            objective,
        };
        var set = PlanOverrideOption.Create();
        command.Options.Add(set);
        command.SetAction(parse => Run(
            new Options(
                parse.GetValue(plan)!,
                parse.GetValue(load) ?? [],
                parse.GetValue(synthetic),
                parse.GetValue(algorithm),
                parse.GetValue(pool)!,
                parse.GetValue(output),
                parse.GetValue(force),
                parse.GetValue(format)!,
                parse.GetValue(compare),
                parse.GetValue(evaluate) ?? [],
                parse.GetValue(objective)!)
            { Set = parse.GetValue(set) ?? [] },
            stdout,
            stderr));
        return command;
    }

    public static int Run(Options o, TextWriter stdout, TextWriter stderr)
    {
        if (o.Load.Length > 0 && o.Synthetic is not null)
        {
            throw new CliUsageException("give --load or --synthetic, not both");
        }

        if (o.Compare && (o.Algorithm is not null || o.Output is not null))
        {
            throw new CliUsageException("--compare runs every algorithm and writes nothing; drop --algorithm and -o");
        }

        if (o.Algorithm is not null && PlacementAlgorithms.Find(o.Algorithm) is null)
        {
            throw new CliUsageException($"unknown placement algorithm '{o.Algorithm}'; choose one of: {string.Join(", ", PlacementAlgorithms.Names)}");
        }

        foreach (var file in o.Evaluate.Concat(o.Load).Prepend(o.Plan))
        {
            InputPaths.RequireFile(file);
        }

        LoadOverride? loadOverride = o.Load.Length > 1
            ? new LoadFilesOverride([.. o.Load], o.Objective == "worst-case" ? RobustObjective.WorstCase : RobustObjective.Expected)
            : o.Load.Length == 1 ? new LoadFileOverride(o.Load[0])
            : o.Synthetic is { } seed ? new SyntheticLoadOverride(seed)
            : null;
        var request = new PlacementRequest(
            o.Plan, o.Pool switch { "prefill" => PoolRole.Prefill, "serve" => PoolRole.Serve, _ => PoolRole.Decode }, loadOverride, o.Algorithm, o.Compare, [.. o.Evaluate]);
        var outcome = PlacementRun.Run(request, PlanOverrideOption.Resolver([.. o.Set], o.Plan));
        var json = o.Format == "json";
        if (outcome.Failure is not null)
        {
            return Failed(stdout, json, outcome.Diagnostics, outcome.Failure);
        }

        if (json)
        {
            stdout.WriteLine(JsonOutput.Write(w => PlacementJson.Write(w, o.Plan, PoolName(o, outcome), o.Compare, outcome)));
        }
        else
        {
            DiagnosticPrinter.WriteText(stdout, outcome.AllDiagnostics);
            WriteText(stdout, o, outcome);
        }

        if (o.Output is not null && outcome.Results[0].Result is { Placement: { } placement, Metrics: { } metrics })
        {
            var (files, skipped) = PlacementRun.OutputFiles(outcome.Plan!, placement, metrics);
            BundleDirectory.Write(o.Output, files.ToDictionary(StringComparer.Ordinal), o.Force);
            var status = json ? stderr : stdout;
            foreach (var note in skipped)
            {
                status.WriteLine($"note: {PlacementRun.SglangFile} not written: {note.Message}");
            }

            status.WriteLine($"{o.Plan}: wrote {files.Count} file(s) to {o.Output}");
        }

        return outcome.HasErrors ? ExitCodes.Diagnostics : ExitCodes.Ok;
    }

    private static int Failed(TextWriter stdout, bool json, IEnumerable<Core.Diagnostics.Diagnostic> diagnostics, string summary)
    {
        if (json)
        {
            stdout.WriteLine(JsonOutput.Write(w =>
            {
                w.WriteStartObject();
                w.WriteString("schema", PlacementJson.Schema);
                w.WriteBoolean("ok", false);
                DiagnosticPrinter.WriteJson(w, diagnostics);
                w.WriteEndObject();
            }));
        }
        else
        {
            DiagnosticPrinter.WriteText(stdout, diagnostics);
            stdout.WriteLine(summary);
        }

        return ExitCodes.Diagnostics;
    }

    /// <summary>The pool placed: an aggregated plan's one pool is serve, whichever of decode or serve named it.</summary>
    private static string PoolName(Options o, PlacementRunOutcome outcome) => outcome.Plan?.IsAggregated == true ? "serve" : o.Pool;

    private static void WriteText(TextWriter stdout, Options o, PlacementRunOutcome outcome)
    {
        var plan = outcome.Plan!;
        var problem = outcome.Problem!;
        var p = problem.Problem;
        var routed = plan.Model.Entry.Architecture.RoutedExperts;
        stdout.WriteLine(
            $"{o.Plan}: {PoolName(o, outcome)} pool, {routed} experts + {p.PhysicalExperts - routed} redundant = {p.PhysicalExperts} slots per layer " +
            $"over {p.Devices} ranks ({p.Nodes} node{(p.Nodes == 1 ? "" : "s")} x {p.DevicesPerNode}{(p.AllowUneven ? ", uneven allowed" : "")}), " +
            $"{p.Loads.LayerCount} MoE layers");
        stdout.WriteLine($"loads: {problem.LoadsDescription}");
        var table = new Table().AddColumns("algorithm", "imbalance mean", "imbalance max (layer)", "overall", "cross-node", "slots per rank");
        foreach (var r in outcome.Results)
        {
            if (r.Result.Metrics is not { } m)
            {
                var codes = string.Join(", ", r.Result.Diagnostics.Where(d => d.IsError).Select(d => d.Code).Distinct());
                table.AddRow(Markup.Escape(r.Algorithm), $"failed: {codes}", "", "", "", "");
                continue;
            }

            table.AddRow([Markup.Escape(r.Algorithm), .. Cells(m),
                m.MinSlotsPerDevice == m.MaxSlotsPerDevice
                    ? m.MinSlotsPerDevice.ToString(CultureInfo.InvariantCulture)
                    : $"{m.MinSlotsPerDevice}..{m.MaxSlotsPerDevice}"]);
        }

        TableWriter.Write(stdout, table);
        if (outcome.Results.All(r => r.Evaluation is null))
        {
            return;
        }

        stdout.WriteLine("evaluated on other loads (placed on the loads above):");
        var evaluated = new Table().AddColumns("algorithm", "loads", "imbalance mean", "imbalance max (layer)", "overall", "cross-node");
        foreach (var r in outcome.Results.Where(r => r.Evaluation is not null))
        {
            foreach (var e in r.Evaluation!.Loads)
            {
                evaluated.AddRow([Markup.Escape(r.Algorithm), Markup.Escape(e.Name), .. Cells(e.Metrics)]);
            }

            if (r.Evaluation.Loads.Length > 1)
            {
                var mean = r.Evaluation.Mean;
                evaluated.AddRow(
                    Markup.Escape(r.Algorithm), $"mean of {r.Evaluation.Loads.Length}", NumberText.Format(mean.MeanLayerImbalance, "0.000"),
                    NumberText.Format(mean.WorstLayerImbalance, "0.000"), NumberText.Format(mean.Imbalance, "0.000"),
                    mean.CrossNodeShare.ToString("0.0%", CultureInfo.InvariantCulture));
            }
        }

        TableWriter.Write(stdout, evaluated);
    }

    private static string[] Cells(PlacementMetrics m) =>
    [
        NumberText.Format(m.MeanLayerImbalance, "0.000"),
        $"{NumberText.Format(m.WorstLayerImbalance, "0.000")} ({m.WorstLayerId.ToString(CultureInfo.InvariantCulture)})",
        NumberText.Format(m.Imbalance, "0.000"),
        m.CrossNodeShare.ToString("0.0%", CultureInfo.InvariantCulture),
    ];
}
