using System.CommandLine;
using System.Globalization;
using MoePlan.Cli.Files;
using MoePlan.Cli.Terminal;
using MoePlan.Core.Diagnostics;
using MoePlan.Core.Search;
using Spectre.Console;

namespace MoePlan.Cli.Commands;

/// <summary><c>moeplan init --model M --devices N --hardware H --input N --output N</c>: ranked deployment shapes and the best as a plan.</summary>
internal static class InitCommand
{
    public static Command Create(TextWriter stdout, TextWriter stderr)
    {
        var model = new Option<string>("--model") { Description = "A catalog model (moeplan models) or a HuggingFace config.json file.", Required = true };
        var devices = new Option<int>("--devices") { Description = "Devices (GPUs, NPU packages) to deploy on: whole nodes.", Required = true };
        var hardware = new Option<string>("--hardware") { Description = "A catalog accelerator (moeplan hardware).", Required = true };
        var perNode = new Option<int?>("--devices-per-node") { Description = "Devices per node; required when the catalog gives no sourced node size (h200, b200, gb200)." };
        var engine = new Option<string>("--engine") { Description = "Serving engine.", DefaultValueFactory = _ => "vllm" };
        engine.AcceptOnlyFromAmong("vllm", "sglang");
        var input = new Option<int>("--input") { Description = "Prompt tokens per request.", Required = true };
        var output = new Option<int>("--output") { Description = "Output tokens per request.", Required = true };
        var ttft = new Option<string?>("--ttft") { Description = "Time-to-first-token target: 2s, 500ms, or milliseconds (checked against the cost model's expected TTFT)." };
        var tpot = new Option<string?>("--tpot") { Description = "Time-per-output-token target: 50ms, 0.05s, or milliseconds." };
        var rate = new Option<double?>("--rate") { Description = "Requests per second to serve: shapes with less capacity miss the targets; the plan's arrivals." };
        var price = new Option<double?>("--price") { Description = "USD per device-hour, for the cost per million output tokens." };
        var kind = new Option<string>("--kind") { Description = "Kinds of deployment to compare: both, disaggregated (prefill and decode pools) or aggregated (one serve pool).", DefaultValueFactory = _ => "both" };
        kind.AcceptOnlyFromAmong("both", "disaggregated", "aggregated");
        var top = new Option<int>("--top") { Description = "Shapes meeting the targets to list.", DefaultValueFactory = _ => 10 };
        var plan = new Option<string?>("--output-plan", "-o") { Description = "Write the best shape's plan to this file (refuses to overwrite one without --force); without it the plan is printed." };
        var force = new Option<bool>("--force") { Description = "Overwrite the -o file." };
        var format = Options.CommonOptions.Format("text", "json");
        var command = new Command("init", """
            Find deployment shapes for a model on N devices and write the best as a plan: enumerates disaggregated
            shapes (prefill and decode instances) and aggregated ones (serve instances, chunked prefill) that use every
            device, per-instance dp x tp with experts over every rank, step tokens and decode batch; drops what the
            verifier rejects, costs the rest with the cost model, lists them ranked (meeting the targets first, by
            output tokens/s per device) with what each misses, and writes the first as a commented, canonical plan
            that `moeplan check` accepts. docs/init.md.

            Examples:
              moeplan init --model deepseek-v3 --devices 32 --hardware h800 --input 4000 --output 1000 --ttft 2s --tpot 50ms -o ds.moe
              moeplan init --model qwen3-235b --devices 16 --hardware h200 --devices-per-node 8 --input 2000 --output 500 --tpot 40ms
              moeplan init --model path/to/config.json --devices 16 --hardware h100 --input 1024 --output 256 --format json
              moeplan init --model qwen3-235b --devices 8 --hardware h200 --devices-per-node 8 --input 2048 --output 512 --kind aggregated
            """)
        {
            model,
            devices,
            hardware,
            perNode,
            engine,
            input,
            output,
            ttft,
            tpot,
            rate,
            price,
            kind,
            top,
            plan,
            force,
            format,
        };
        command.SetAction(parse =>
        {
            var ttftMs = Duration("--ttft", parse.GetValue(ttft));
            var tpotMs = Duration("--tpot", parse.GetValue(tpot));
            var modelText = parse.GetValue(model)!;
            // Catalog names have no path separators; anything that looks like or is a path is read as a config.json.
            var isConfig = modelText.EndsWith(".json", StringComparison.OrdinalIgnoreCase) || modelText.Contains('/', StringComparison.Ordinal)
                           || modelText.Contains('\\', StringComparison.Ordinal) || File.Exists(modelText) || Directory.Exists(modelText);
            var planFile = parse.GetValue(plan);
            var planPath = Path.GetFullPath(planFile ?? NameFor(modelText, isConfig, parse.GetValue(devices), parse.GetValue(hardware)!));
            var request = new InitRequest(isConfig ? Path.GetFullPath(modelText) : modelText, isConfig, parse.GetValue(hardware)!, parse.GetValue(devices),
                parse.GetValue(perNode), parse.GetValue(engine)!, parse.GetValue(input), parse.GetValue(output), ttftMs, tpotMs, parse.GetValue(rate),
                parse.GetValue(price), parse.GetValue(top), planPath, CommandLine(parse.Tokens.Select(t => t.Value).SkipWhile(t => t == "init")))
            {
                Kinds = parse.GetValue(kind) switch
                {
                    "disaggregated" => [CandidateKind.Disaggregated],
                    "aggregated" => [CandidateKind.Aggregated],
                    _ => [CandidateKind.Disaggregated, CandidateKind.Aggregated],
                },
            };
            return Run(request, planFile, parse.GetValue(force), parse.GetValue(format)!, stdout, stderr);
        });
        return command;
    }

    public static int Run(InitRequest request, string? planFile, bool force, string format, TextWriter stdout, TextWriter stderr)
    {
        if (request.ModelIsConfig && Options.InputPaths.Problem(request.Model, "model config ") is { } problem)
        {
            stderr.WriteLine($"moeplan: error {DiagnosticCodes.InitUnknownModel.Code}: {problem}");
            return ExitCodes.UsageOrIo;
        }

        if (planFile is not null && !force && File.Exists(planFile))
        {
            throw new CliUsageException($"-o '{planFile}' exists; pass --force to overwrite it");
        }

        var result = DeploymentInit.Run(request, new FileSystemSourceResolver(), out var diagnostics);
        if (result is null)
        {
            DiagnosticPrinter.WriteText(stderr, diagnostics);
            // Bad arguments are usage errors; arguments that are fine but leave no shape (or a plan that does not compile) are diagnostics.
            return diagnostics.Any(d => d.IsError && d.Code is not ("MP5615") && (d.Code.StartsWith("MP56", StringComparison.Ordinal) || d.Code.StartsWith("MP21", StringComparison.Ordinal)))
                ? ExitCodes.UsageOrIo
                : ExitCodes.Diagnostics;
        }

        if (planFile is not null)
        {
            try
            {
                var folder = Path.GetDirectoryName(Path.GetFullPath(planFile))!;
                Directory.CreateDirectory(folder);
                var temporary = Path.Combine(folder, $".{Path.GetFileName(planFile)}.tmp");
                File.WriteAllText(temporary, result.PlanText);
                File.Move(temporary, planFile, overwrite: true);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new CliUsageException($"cannot write '{planFile}': {e.Message}");
            }
        }

        if (format == "json")
        {
            stdout.WriteLine(InitReportWriter.Json(result, planFile));
            return ExitCodes.Ok;
        }

        foreach (var line in InitReportWriter.Summary(result))
        {
            stdout.WriteLine(line);
        }

        var table = new Table().Title("deployment shapes, best first (cost model, each placed for its own EP)").AddColumns([.. InitReportWriter.Columns]);
        foreach (var row in InitReportWriter.Rows(result))
        {
            table.AddRow([.. row.Select(Markup.Escape)]);
        }

        TableWriter.Write(stdout, table);
        DiagnosticPrinter.WriteText(stderr, result.PlanDiagnostics);
        if (planFile is not null)
        {
            stdout.WriteLine($"wrote {planFile} (shape #1)");
        }
        else
        {
            stdout.WriteLine("plan of shape #1 (write it with -o FILE):");
            stdout.Write(result.PlanText);
        }

        return ExitCodes.Ok;
    }

    /// <summary>A duration in milliseconds: <c>2s</c>, <c>500ms</c>, or a bare number of milliseconds.</summary>
    private static double? Duration(string option, string? text)
    {
        if (text is null)
        {
            return null;
        }

        var t = text.Trim();
        var (number, scale) = t.EndsWith("ms", StringComparison.OrdinalIgnoreCase) ? (t[..^2], 1.0)
            : t.EndsWith('s') || t.EndsWith('S') ? (t[..^1], 1000.0)
            : (t, 1.0);
        if (!double.TryParse(number.Trim(), NumberStyles.Float, CultureInfo.InvariantCulture, out var value) || !(value > 0) || !double.IsFinite(value))
        {
            throw new CliUsageException(DiagnosticCodes.InitInvalidArgument.Create(null, option, text, "expected a positive duration such as 2s, 500ms or 50 (milliseconds)").Message
                                        + $" ({DiagnosticCodes.InitInvalidArgument.Code})");
        }

        return value * scale;
    }

    private static string NameFor(string model, bool isConfig, int devices, string hardware)
    {
        var name = isConfig ? Core.Catalog.HuggingFaceConfigReader.ModelNameFromPath(model) : model;
        return Core.Binding.NameRules.SuggestedName($"{name}-{devices.ToString(CultureInfo.InvariantCulture)}x{hardware}") + ".moe";
    }

    private static string CommandLine(IEnumerable<string> tokens) =>
        "moeplan init " + string.Join(' ', tokens.Select(t => t.Any(c => char.IsWhiteSpace(c) || c is '"' or '\'' or '`') ? "'" + t.Replace("'", "", StringComparison.Ordinal) + "'" : t));
}
