using System.CommandLine;
using MoePlan.Cli.Commands;
using MoePlan.Scripting;

namespace MoePlan.Cli;

/// <summary>The command tree. Writers are parameters so tests run the CLI in-process.</summary>
public static class MoePlanCli
{
    public static RootCommand Build(TextWriter stdout, TextWriter stderr, TextReader? stdin = null)
    {
        stdin ??= Console.In;
        var root = new RootCommand("moeplan: verify, cost-model and render deployments of giant mixture-of-experts models.");
        root.Subcommands.Add(CheckCommand.Create(stdout, stderr, stdin, ServingPolicies.CheckPlanScript));
        root.Subcommands.Add(CompileCommand.Create(stdout, stderr));
        root.Subcommands.Add(CostCommand.Create(stdout, stderr));
        root.Subcommands.Add(PlaceCommand.Create(stdout, stderr));
        root.Subcommands.Add(CalibrateCommand.Create(stdout, stderr));
        root.Subcommands.Add(ModelsCommand.Create(stdout, stderr));
        root.Subcommands.Add(HardwareCommand.Create(stdout, stderr));
        root.Subcommands.Add(FmtCommand.Create(stdout, stderr, stdin));
        root.Subcommands.Add(KernelsCommand.Create(stdout, stderr));
        root.Subcommands.Add(RunCommand.Create(stdout, stderr));
        root.Subcommands.Add(SearchCommand.Create(stdout, stderr));
        root.Subcommands.Add(InitCommand.Create(stdout, stderr));
        root.Subcommands.Add(LspCommand.Create());
        root.Subcommands.Add(ProxyCommand.Create(stdout, stderr));
        root.Subcommands.Add(EngineCommand.Create(stdout, stderr));
        root.Subcommands.Add(BenchCommand.Create(stdout, stderr));
        return root;
    }

    public static int Run(string[] args, TextWriter stdout, TextWriter stderr, TextReader? stdin = null) =>
        CommandInvocation.Invoke(Build(stdout, stderr, stdin), args, stdout, stderr);
}
