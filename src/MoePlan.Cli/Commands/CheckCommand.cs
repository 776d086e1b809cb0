using System.CommandLine;
using System.Reflection;
using System.Text;
using System.Text.Json;
using MoePlan.Cli.Files;
using MoePlan.Cli.Options;
using MoePlan.Cli.Terminal;
using MoePlan.Core.Compilation;
using MoePlan.Core.Diagnostics;
using MoePlan.Core.Emit;
using MoePlan.Core.Inventory;
using MoePlan.Core.Plan;
using MoePlan.Core.Syntax;

namespace MoePlan.Cli.Commands;

/// <summary>Checks a plan's scheduler script (MP4xxx): the plan file and the bound plan in, the script's diagnostics out.</summary>
internal delegate IReadOnlyList<Diagnostic> PlanScriptCheck(string planFile, DeploymentPlan plan);

/// <summary><c>moeplan check FILE...</c>: parse, bind and verify; print diagnostics. Also the whole of <c>moeplan-check</c>
/// (src/MoePlan.Check), compiled ahead of time without the scripting assemblies: hence the script check comes in.</summary>
internal static class CheckCommand
{
    public static Command Create(TextWriter stdout, TextWriter stderr, TextReader stdin, PlanScriptCheck scriptCheck)
    {
        var files = new Argument<string[]>("files") { Description = "Plan files (*.moe), folders (every *.moe below them), or - for standard input.", Arity = ArgumentArity.OneOrMore };
        var format = CommonOptions.Format("text", "json", "sarif");
        var docsUri = new Option<string?>("--docs-uri")
        {
            Description = "With --format sarif: the repository's web address; each rule's helpUri is then <address>/docs/diagnostics.md.",
        };
        var inventory = new Option<string?>("--inventory")
        {
            Description = "YAML file listing the cluster's nodes (docs/bundles.md): also check it against each plan (nodes per pool, devices per node, duplicate hosts and addresses).",
        };
        var command = new Command("check", """
            Parse, bind and verify plans; print diagnostics as file(line,col): severity CODE: message.
            Exit code 0 when no plan has errors, 1 when one has, 2 for usage or I/O errors.

            Examples:
              moeplan check plans/deepseek-v3-h800.moe
              moeplan check plans/*.moe --format json
              moeplan check plans/ --format sarif > moeplan.sarif
              moeplan check plans/
              cat plan.moe | moeplan check -
              moeplan check plans/deepseek-v3-h800.moe --inventory cluster.yaml
            Files with no deployment (imported settings only) are noted and skipped.
            """)
        {
            files,
            format,
            docsUri,
            inventory,
        };
        var set = PlanOverrideOption.Create();
        command.Options.Add(set);
        command.SetAction(parse => Run(parse.GetValue(files)!, parse.GetValue(format)!, stdout, stderr, scriptCheck, stdin, parse.GetValue(docsUri), parse.GetValue(set), parse.GetValue(inventory)));
        return command;
    }

    public static int Run(string[] arguments, string format, TextWriter stdout, TextWriter stderr, PlanScriptCheck scriptCheck, TextReader? stdin = null, string? docsUri = null, string[]? set = null,
        string? inventoryPath = null)
    {
        if (docsUri is not null && !Uri.TryCreate(docsUri, UriKind.Absolute, out _))
        {
            stderr.WriteLine($"moeplan: error: --docs-uri '{docsUri}' is not an absolute address (e.g. https://example.org/moeplan)");
            return ExitCodes.UsageOrIo;
        }

        // The inventory is read once; its own errors (MP54xx) are reported with every plan, as each plan's check depends on it.
        var inventory = inventoryPath is null ? default : InventoryFile.Load(inventoryPath);
        if (inventory.Unreadable)
        {
            DiagnosticPrinter.WriteText(stderr, inventory.Diagnostics);
            return ExitCodes.UsageOrIo;
        }

        var planFiles = PlanFiles.Expand(arguments);
        var resolver = PlanOverrideOption.Resolver(set, planFiles.FirstOrDefault(f => f != "-"));
        var standardInputText = "";
        var results = new List<CompilationResult>();
        var skipped = new HashSet<string>(StringComparer.Ordinal);
        foreach (var file in planFiles)
        {
            if (file != "-" && !File.Exists(file))
            {
                stderr.WriteLine($"moeplan: error: cannot read '{file}': no such file");
                return ExitCodes.UsageOrIo;
            }

            // Standard input: imports resolve against the working folder.
            if (file == "-")
            {
                standardInputText = (stdin ?? Console.In).ReadToEnd();
                if (!resolver.Overrides.IsEmpty)
                {
                    var (overridden, unknown) = Core.Editing.PlanOverrides.Apply(standardInputText, PlanFiles.StandardInput, resolver.Overrides);
                    standardInputText = overridden ?? throw new CliUsageException($"{unknown[0].Message} ({unknown[0].Code})");
                }
            }

            var result = file == "-"
                ? PlanCompiler.CompileText(PlanFiles.StandardInput, standardInputText, resolver)
                : PlanCompiler.Compile(file, resolver);
            if (IsImportOnly(result))
            {
                skipped.Add(result.Path);
                results.Add(result with { Diagnostics = [] });
                continue;
            }

            // A plan whose policy is a scheduler script: the script is compiled and checked too (MP4xxx). Tested here
            // first so that a plan without one does not load the scripting assemblies (startup: docs/benchmarks.md).
            if (result.Plan is { Proxy.ScriptPath: not null } plan && scriptCheck(file, plan) is { Count: > 0 } scriptDiagnostics)
            {
                result = result with { Diagnostics = result.Diagnostics.AddRange(scriptDiagnostics) };
            }

            if (inventoryPath is not null && result.Plan is { } checkedPlan)
            {
                var inventoryDiagnostics = inventory.Inventory is { } loaded
                    ? inventory.Diagnostics.AddRange(InventoryVerifier.Verify(checkedPlan, loaded))
                    : inventory.Diagnostics;
                result = result with { Diagnostics = result.Diagnostics.AddRange(inventoryDiagnostics) };
            }

            results.Add(result);
        }

        if (format == "sarif")
        {
            // Sources are read again only for the regions' end positions (standard input was kept).
            string? ReadSource(string path) =>
                path == PlanFiles.StandardInput ? standardInputText : resolver.TryRead(path, out var text, out _) ? text : null;
            stdout.WriteLine(SarifLogWriter.Write(ToolVersion, results.SelectMany(r => r.Diagnostics), ReadSource, docsUri));
        }
        else if (format == "json")
        {
            stdout.WriteLine(JsonOutput.Write(w =>
            {
                w.WriteStartObject();
                w.WriteString("schema", "moeplan/check/v1");
                w.WriteStartArray("files");
                foreach (var result in results)
                {
                    w.WriteStartObject();
                    w.WriteString("file", result.Path);
                    w.WriteBoolean("ok", !result.HasErrors);
                    if (skipped.Contains(result.Path))
                    {
                        w.WriteString("skipped", "import-only: no deployment");
                    }

                    DiagnosticPrinter.WriteJson(w, result.Diagnostics);
                    w.WriteEndObject();
                }

                w.WriteEndArray();
                w.WriteEndObject();
            }));
        }
        else
        {
            foreach (var result in results)
            {
                if (skipped.Contains(result.Path))
                {
                    stdout.WriteLine($"{result.Path}: skipped: no deployment (a file of settings other plans import)");
                    continue;
                }

                DiagnosticPrinter.WriteText(stdout, result.Diagnostics);
                var errors = result.Diagnostics.Count(d => d.IsError);
                var warnings = result.Diagnostics.Count(d => !d.IsError);
                stdout.WriteLine(errors == 0
                    ? $"{result.Path}: ok{(warnings > 0 ? $" ({warnings} warning{(warnings == 1 ? "" : "s")})" : "")}"
                    : $"{result.Path}: {errors} error{(errors == 1 ? "" : "s")}, {warnings} warning{(warnings == 1 ? "" : "s")}");
            }
        }

        return results.Any(r => r.HasErrors) ? ExitCodes.Diagnostics : ExitCodes.Ok;
    }

    /// <summary>The version without the source revision (0.1.0), so a SARIF log depends on the plans only.</summary>
    private static string ToolVersion =>
        (typeof(CheckCommand).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "0.0.0").Split('+')[0];

    /// <summary>A file that parses and holds no deployment (only lets and imports): what plans import, not a plan.</summary>
    private static bool IsImportOnly(CompilationResult result) =>
        result.Syntax is { } syntax
        && !syntax.Statements.OfType<DeploymentSyntax>().Any()
        && result.Diagnostics.Where(d => d.IsError).All(d => d.Code == DiagnosticCodes.DeploymentCount.Code);
}
