using System.CommandLine;
using System.Text;
using System.Text.Json;
using MoePlan.Cli.Files;
using MoePlan.Cli.Options;
using MoePlan.Cli.Terminal;
using MoePlan.Core.Compilation;
using MoePlan.Core.Emit;
using MoePlan.Scripting;

namespace MoePlan.Cli.Commands;

/// <summary><c>moeplan check FILE...</c>: parse, bind and verify; print diagnostics.</summary>
internal static class CheckCommand
{
    public static Command Create(TextWriter stdout, TextWriter stderr)
    {
        var files = new Argument<string[]>("files") { Description = "Plan files (*.moe).", Arity = ArgumentArity.OneOrMore };
        var format = CommonOptions.Format("text", "json");
        var command = new Command("check", """
            Parse, bind and verify plans; print diagnostics as file(line,col): severity CODE: message.
            Exit code 0 when no plan has errors, 1 when one has, 2 for usage or I/O errors.

            Examples:
              moeplan check plans/deepseek-v3-h800.moe
              moeplan check plans/*.moe --format json
            """)
        {
            files,
            format,
        };
        command.SetAction(parse => Run(parse.GetValue(files)!, parse.GetValue(format)!, stdout, stderr));
        return command;
    }

    public static int Run(string[] files, string format, TextWriter stdout, TextWriter stderr)
    {
        var resolver = new FileSystemSourceResolver();
        var results = new List<CompilationResult>();
        foreach (var file in files)
        {
            if (!File.Exists(file))
            {
                stderr.WriteLine($"moeplan: error: cannot read '{file}': no such file");
                return ExitCodes.UsageOrIo;
            }

            var result = PlanCompiler.Compile(file, resolver);
            // A plan whose policy is a scheduler script: the script is compiled and checked too (MP4xxx).
            if (result.Plan is { } plan && ServingPolicies.CheckPlanScript(file, plan) is { Count: > 0 } scriptDiagnostics)
            {
                result = result with { Diagnostics = result.Diagnostics.AddRange(scriptDiagnostics) };
            }

            results.Add(result);
        }

        if (format == "json")
        {
            stdout.WriteLine(JsonOutput.Write(w =>
            {
                w.WriteStartObject();
                w.WriteStartArray("files");
                foreach (var result in results)
                {
                    w.WriteStartObject();
                    w.WriteString("file", result.Path);
                    w.WriteBoolean("ok", !result.HasErrors);
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
}
