using System.CommandLine;
using System.Globalization;
using System.Text;
using System.Text.Json;
using MoePlan.Cli.Files;
using MoePlan.Cli.Options;
using MoePlan.Cli.Terminal;
using MoePlan.Core.Compilation;
using MoePlan.Core.Emit;
using MoePlan.Core.Placement;
using MoePlan.Core.Plan;
using MoePlan.Core.Text;
using Spectre.Console;

namespace MoePlan.Cli.Commands;

/// <summary>
/// <c>moeplan place PLAN</c>: place a pool's experts (the plan's algorithm and loads, or overrides), print the imbalance
/// and cross-node metrics, compare algorithms, or write placement.json and the engines' expert-map files.
/// </summary>
internal static class PlaceCommand
{
    public const string PlacementFile = "placement.json";
    public const string VllmAscendFile = "vllm-ascend-expert-map.json";
    public const string SglangFile = "sglang-init-expert-location.json";

    public sealed record Options(
        string Plan,
        string? Load,
        ulong? Synthetic,
        string? Algorithm,
        string Pool,
        string? Output,
        bool Force,
        string Format,
        bool Compare);

    public static Command Create(TextWriter stdout, TextWriter stderr)
    {
        var plan = new Argument<string>("plan") { Description = "Plan file (*.moe)." };
        var load = new Option<string?>("--load") { Description = "Expert-load file instead of the plan's (CSV layer,expert,load; JSON [[...]]; SGLang {\"logical_count\": ...}).", HelpName = "FILE" };
        var synthetic = new Option<ulong?>("--synthetic") { Description = "Synthetic loads with this seed instead of the plan's loads.", HelpName = "SEED" };
        var algorithm = new Option<string?>("--algorithm", "-a")
        {
            Description = $"Placement algorithm instead of the plan's: {string.Join(", ", PlacementAlgorithms.Names)}.",
            HelpName = "NAME",
        };
        var pool = new Option<string>("--pool") { Description = "The pool to place: decode or prefill.", DefaultValueFactory = _ => "decode" };
        pool.AcceptOnlyFromAmong("decode", "prefill");
        var output = new Option<string?>("--output", "-o")
        {
            Description = $"Write {PlacementFile}, {VllmAscendFile} and {SglangFile} to this folder (refused if not empty, unless --force).",
            HelpName = "DIR",
        };
        var force = new Option<bool>("--force") { Description = "Replace a non-empty output folder." };
        var format = CommonOptions.Format("text", "json");
        var compare = new Option<bool>("--compare") { Description = "Run every algorithm on the same loads and print one table (JSON: an array)." };
        var command = new Command("place", """
            Place the experts of a plan's pool on its expert-parallel ranks and report how balanced the placement is:
            imbalance (busiest rank's load / mean rank load; mean and worst over the MoE layers) and the share of
            token dispatches that leave their node. Loads and algorithm come from the plan's placement block unless
            overridden. Exit code 0 ok, 1 when there are error diagnostics, 2 for usage or I/O errors.

            Examples:
              moeplan place plans/deepseek-v3-h800.moe
              moeplan place plans/deepseek-v3-h800.moe --pool prefill --compare
              moeplan place plans/deepseek-v3-h800.moe --load plans/data/deepseek-v3-sglang-decode_in2000out100.json --algorithm omni --format json
              moeplan place plans/deepseek-v3-sglang-h100.moe --synthetic 42 -o out/placement --force
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
        };
        command.SetAction(parse => Run(
            new Options(
                parse.GetValue(plan)!,
                parse.GetValue(load),
                parse.GetValue(synthetic),
                parse.GetValue(algorithm),
                parse.GetValue(pool)!,
                parse.GetValue(output),
                parse.GetValue(force),
                parse.GetValue(format)!,
                parse.GetValue(compare)),
            stdout,
            stderr));
        return command;
    }

    public static int Run(Options o, TextWriter stdout, TextWriter stderr)
    {
        if (o.Load is not null && o.Synthetic is not null)
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

        foreach (var file in new[] { o.Plan, o.Load })
        {
            if (file is not null && !File.Exists(file))
            {
                throw new CliUsageException($"cannot read '{file}': no such file");
            }
        }

        var resolver = new FileSystemSourceResolver();
        // Placement runs below with the chosen loads; compilation stops after verification.
        var compiled = PlanCompiler.Compile(o.Plan, resolver, throughVerification: true);
        var json = o.Format == "json";
        if (compiled.Plan is not { } plan)
        {
            return Failed(stdout, json, compiled.Diagnostics, $"{o.Plan}: not compiled: {compiled.Diagnostics.Count(d => d.IsError)} error(s)");
        }

        var pool = o.Pool == "prefill" ? PoolRole.Prefill : PoolRole.Decode;
        LoadOverride? loadOverride = o.Load is not null ? new LoadFileOverride(o.Load)
            : o.Synthetic is { } seed ? new SyntheticLoadOverride(seed)
            : null;
        var (problem, problemDiagnostics) = PlanPlacement.ProblemOf(plan, pool, resolver, loadOverride);
        var diagnostics = compiled.Diagnostics.AddRange(problemDiagnostics);
        if (problem is null)
        {
            return Failed(stdout, json, diagnostics, $"{o.Plan}: no placement: {diagnostics.Count(d => d.IsError)} error(s)");
        }

        var results = o.Compare
            ? PlacementAlgorithms.Names.Select(name => PlanPlacement.Place(plan, problem, name)).ToList()
            : [PlanPlacement.Place(plan, problem, o.Algorithm)];
        var all = diagnostics.AddRange(results.SelectMany(r => r.Diagnostics));
        var code = all.Any(d => d.IsError) ? ExitCodes.Diagnostics : ExitCodes.Ok;
        if (json)
        {
            WriteJson(stdout, o, plan, problem, diagnostics, results);
        }
        else
        {
            DiagnosticPrinter.WriteText(stdout, all);
            WriteText(stdout, o, plan, problem, results);
        }

        if (o.Output is not null && results[0] is { Placement: { } placement, Metrics: { } metrics })
        {
            var files = new Dictionary<string, string>(StringComparer.Ordinal)
            {
                [PlacementFile] = ExpertMapFormats.PlacementJson(placement, metrics),
                [VllmAscendFile] = ExpertMapFormats.VllmAscendExpertMap(placement),
            };
            var sglang = ExpertMapFormats.SglangExpertLocation(placement, plan.Model.Entry.Architecture.Layers);
            if (sglang.Text is not null)
            {
                files[SglangFile] = sglang.Text;
            }

            BundleDirectory.Write(o.Output, files, o.Force);
            var status = json ? stderr : stdout;
            foreach (var skipped in sglang.Diagnostics)
            {
                status.WriteLine($"note: {SglangFile} not written: {skipped.Message}");
            }

            status.WriteLine($"{o.Plan}: wrote {files.Count} file(s) to {o.Output}");
        }

        return code;
    }

    private static int Failed(TextWriter stdout, bool json, IEnumerable<Core.Diagnostics.Diagnostic> diagnostics, string summary)
    {
        if (json)
        {
            stdout.WriteLine(Json(w =>
            {
                w.WriteStartObject();
                w.WriteString("schema", "moeplan/place/v1");
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

    private static void WriteText(TextWriter stdout, Options o, DeploymentPlan plan, PoolPlacementProblem problem, IReadOnlyList<PoolPlacementResult> results)
    {
        var p = problem.Problem;
        var routed = plan.Model.Entry.Architecture.RoutedExperts;
        stdout.WriteLine(
            $"{o.Plan}: {o.Pool} pool, {routed} experts + {p.PhysicalExperts - routed} redundant = {p.PhysicalExperts} slots per layer " +
            $"over {p.Devices} ranks ({p.Nodes} node{(p.Nodes == 1 ? "" : "s")} x {p.DevicesPerNode}{(p.AllowUneven ? ", uneven allowed" : "")}), " +
            $"{p.Loads.LayerCount} MoE layers");
        stdout.WriteLine($"loads: {problem.LoadsDescription}");
        var table = new Table().AddColumns("algorithm", "imbalance mean", "imbalance max (layer)", "overall", "cross-node", "slots per rank");
        foreach (var r in results)
        {
            var name = r.Placement?.Algorithm ?? o.Algorithm ?? plan.Placement.Algorithm.Value;
            if (r.Metrics is not { } m)
            {
                var codes = string.Join(", ", r.Diagnostics.Where(d => d.IsError).Select(d => d.Code).Distinct());
                table.AddRow(Markup.Escape(name), $"failed: {codes}", "", "", "", "");
                continue;
            }

            table.AddRow(
                Markup.Escape(name),
                NumberText.Format(m.MeanLayerImbalance, "0.000"),
                $"{NumberText.Format(m.WorstLayerImbalance, "0.000")} ({m.WorstLayerId.ToString(CultureInfo.InvariantCulture)})",
                NumberText.Format(m.Imbalance, "0.000"),
                m.CrossNodeShare.ToString("0.0%", CultureInfo.InvariantCulture),
                m.MinSlotsPerDevice == m.MaxSlotsPerDevice
                    ? m.MinSlotsPerDevice.ToString(CultureInfo.InvariantCulture)
                    : $"{m.MinSlotsPerDevice}..{m.MaxSlotsPerDevice}");
        }

        TableWriter.Write(stdout, table);
    }

    private static void WriteJson(
        TextWriter stdout, Options o, DeploymentPlan plan, PoolPlacementProblem problem, IEnumerable<Core.Diagnostics.Diagnostic> earlier, IReadOnlyList<PoolPlacementResult> results)
    {
        stdout.WriteLine(Json(w =>
        {
            // One algorithm: its result object; --compare: the results of all in "results".
            if (o.Compare)
            {
                w.WriteStartObject();
                w.WriteString("schema", "moeplan/place/v1");
                w.WriteStartArray("results");
            }

            foreach (var r in results)
            {
                w.WriteStartObject();
                if (!o.Compare)
                {
                    w.WriteString("schema", "moeplan/place/v1");
                }

                w.WriteString("plan", o.Plan);
                w.WriteString("pool", o.Pool);
                w.WriteString("loads", problem.LoadsDescription);
                w.WriteString("algorithm", r.Placement?.Algorithm ?? o.Algorithm ?? plan.Placement.Algorithm.Value);
                w.WriteBoolean("ok", r.Metrics is not null);
                w.WriteNumber("experts", problem.Problem.Experts);
                w.WriteNumber("physical_experts", problem.Problem.PhysicalExperts);
                w.WriteNumber("devices", problem.Problem.Devices);
                w.WriteNumber("devices_per_node", problem.Problem.DevicesPerNode);
                w.WriteBoolean("uneven", problem.Problem.AllowUneven);
                if (r.Metrics is { } m)
                {
                    w.WriteNumber("imbalance_mean", Round(m.MeanLayerImbalance));
                    w.WriteNumber("imbalance_max", Round(m.WorstLayerImbalance));
                    w.WriteNumber("imbalance_max_layer", m.WorstLayerId);
                    w.WriteNumber("imbalance_overall", Round(m.Imbalance));
                    w.WriteNumber("cross_node_fraction", Round(m.CrossNodeShare));
                    w.WriteNumber("min_slots_per_device", m.MinSlotsPerDevice);
                    w.WriteNumber("max_slots_per_device", m.MaxSlotsPerDevice);
                    w.WriteStartArray("layers");
                    foreach (var layer in m.Layers)
                    {
                        w.WriteStartObject();
                        w.WriteNumber("layer_id", layer.LayerId);
                        w.WriteNumber("imbalance", Round(layer.Imbalance));
                        w.WriteNumber("cross_node_fraction", Round(layer.CrossNodeShare));
                        w.WriteEndObject();
                    }

                    w.WriteEndArray();
                }

                DiagnosticPrinter.WriteJson(w, earlier.Concat(r.Diagnostics));
                w.WriteEndObject();
            }

            if (o.Compare)
            {
                w.WriteEndArray();
                w.WriteEndObject();
            }
        }));
    }

    private static string Json(Action<Utf8JsonWriter> body)
    {
        return JsonOutput.Write(w =>
        {
            body(w);
        });
    }

    private static double Round(double value) => Math.Round(value, 6, MidpointRounding.ToEven);

}
