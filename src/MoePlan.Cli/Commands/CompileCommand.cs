using System.CommandLine;
using MoePlan.Core.Compilation;
using MoePlan.Core.Emit;

namespace MoePlan.Cli.Commands;

/// <summary><c>moeplan compile FILE -o DIR</c>: verify, then write the bundle (today: the normalised plan.json).</summary>
internal static class CompileCommand
{
    public static Command Create(TextWriter stdout, TextWriter stderr)
    {
        var file = new Argument<string>("file") { Description = "Plan file (*.moe)." };
        var output = new Option<string>("--output", "-o") { Description = "Output folder (refused if not empty, unless --force).", Required = true };
        var force = new Option<bool>("--force") { Description = "Replace a non-empty output folder." };
        var command = new Command("compile", """
            Verify a plan and write its bundle to a folder: plan.json (the normalised, catalog-resolved plan).
            The folder is written atomically; nothing is written when the plan has errors.

            Examples:
              moeplan compile plans/deepseek-v3-h800.moe -o out/deepseek-v3-h800
              moeplan compile plans/qwen1.5-moe-tiny.moe -o out/tiny --force
            """)
        {
            file,
            output,
            force,
        };
        command.SetAction(parse => Run(parse.GetValue(file)!, parse.GetValue(output)!, parse.GetValue(force), stdout, stderr));
        return command;
    }

    public static int Run(string file, string output, bool force, TextWriter stdout, TextWriter stderr)
    {
        if (!File.Exists(file))
        {
            stderr.WriteLine($"moeplan: error: cannot read '{file}': no such file");
            return ExitCodes.UsageOrIo;
        }

        var result = PlanCompiler.Compile(file, new FileSystemSourceResolver());
        DiagnosticPrinter.WriteText(stdout, result.Diagnostics);
        if (result.Plan is null)
        {
            stdout.WriteLine($"{file}: not compiled: {result.Diagnostics.Count(d => d.IsError)} error(s)");
            return ExitCodes.Diagnostics;
        }

        var files = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["plan.json"] = PlanJsonWriter.Write(result.Plan),
        };
        BundleDirectory.Write(output, files, force);
        stdout.WriteLine($"{file}: wrote {files.Count} file(s) to {output}");
        return ExitCodes.Ok;
    }
}
