using System.CommandLine;
using System.Diagnostics;
using MoePlan.Check;
using MoePlan.Cli;
using MoePlan.Cli.Commands;

// `moeplan-check ARGS` is `moeplan check ARGS`: the same command, options, output and exit codes.
// Standard input (`-`) is read here, once, so that a hand-over to `moeplan check` can pass it on.
var standardInput = args.Contains("-") ? Console.In.ReadToEnd() : null;
var root = new RootCommand("moeplan-check: `moeplan check` compiled ahead of time.");
root.Subcommands.Add(CheckCommand.Create(Console.Out, Console.Error, standardInput is null ? Console.In : new StringReader(standardInput), ScriptedPlan.HandOver));
try
{
    return CommandInvocation.Invoke(root, ["check", .. args], Console.Out, Console.Error);
}
catch (ScriptedPlan e)
{
    return ScriptedPlan.RunFullCheck(args, e.PlanFile, standardInput);
}

namespace MoePlan.Check
{
    /// <summary>
    /// A plan with a scheduler script: its script is checked by compiling it (Roslyn), which an ahead-of-time binary
    /// cannot load. The check stops before printing anything and <c>moeplan check</c> runs it all instead.
    /// </summary>
    internal sealed class ScriptedPlan(string planFile) : Exception($"{planFile} has a scheduler script")
    {
        public string PlanFile { get; } = planFile;

        public static IReadOnlyList<MoePlan.Core.Diagnostics.Diagnostic> HandOver(string planFile, MoePlan.Core.Plan.DeploymentPlan plan) =>
            throw new ScriptedPlan(planFile);

        /// <summary>Runs <c>moeplan check</c> with the same arguments: the <c>moeplan</c> beside this binary, else on PATH.</summary>
        public static int RunFullCheck(string[] args, string planFile, string? standardInput)
        {
            // Looked up here, not by Process.Start, which would also try the working folder.
            var name = OperatingSystem.IsWindows() ? "moeplan.exe" : "moeplan";
            var moeplan = new[] { AppContext.BaseDirectory }
                .Concat((Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries))
                .Select(folder => Path.Combine(folder, name))
                .FirstOrDefault(File.Exists);
            if (moeplan is null)
            {
                Console.Error.WriteLine($"moeplan-check: error: {planFile} has a scheduler script, which only `moeplan check` can check, and no `moeplan` was found beside this program or on PATH");
                return ExitCodes.UsageOrIo;
            }

            var start = new ProcessStartInfo(moeplan) { UseShellExecute = false, RedirectStandardInput = standardInput is not null };
            start.ArgumentList.Add("check");
            foreach (var arg in args)
            {
                start.ArgumentList.Add(arg);
            }

            using var process = Process.Start(start)!;
            if (standardInput is not null)
            {
                process.StandardInput.Write(standardInput);
                process.StandardInput.Close();
            }

            process.WaitForExit();
            return process.ExitCode;
        }
    }
}
