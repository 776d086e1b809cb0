using System.CommandLine;
using MoePlan.Cli.Commands;
using MoePlan.Cli.Terminal;

namespace MoePlan.Cli;

/// <summary>Exit codes: 0 ok, 1 diagnostics with errors, 2 usage or I/O error.</summary>
public static class ExitCodes
{
    public const int Ok = 0;
    public const int Diagnostics = 1;
    public const int UsageOrIo = 2;
}

/// <summary>The command tree. Writers are parameters so tests run the CLI in-process.</summary>
public static class MoePlanCli
{
    public static RootCommand Build(TextWriter stdout, TextWriter stderr, TextReader? stdin = null)
    {
        stdin ??= Console.In;
        var root = new RootCommand("moeplan: verify, cost-model and render deployments of giant mixture-of-experts models.");
        root.Subcommands.Add(CheckCommand.Create(stdout, stderr, stdin));
        root.Subcommands.Add(CompileCommand.Create(stdout, stderr));
        root.Subcommands.Add(CostCommand.Create(stdout, stderr));
        root.Subcommands.Add(PlaceCommand.Create(stdout, stderr));
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

    public static int Run(string[] args, TextWriter stdout, TextWriter stderr, TextReader? stdin = null)
    {
        var root = Build(stdout, stderr, stdin);
        var parse = root.Parse(args);
        var configuration = new InvocationConfiguration { Output = stdout, Error = stderr, EnableDefaultExceptionHandler = false };
        if (parse.Errors.Count > 0)
        {
            foreach (var error in parse.Errors)
            {
                stderr.WriteLine($"moeplan: error: {UsageMessages.Reword(error.Message)}");
            }

            stderr.WriteLine("Run 'moeplan --help' or 'moeplan <command> --help' for usage.");
            return ExitCodes.UsageOrIo;
        }

        try
        {
            return parse.Invoke(configuration);
        }
        catch (CliUsageException e)
        {
            stderr.WriteLine($"moeplan: error: {e.Message}");
            return ExitCodes.UsageOrIo;
        }
    }
}

/// <summary>A usage or I/O problem the CLI reports with exit code 2 (never a stack trace).</summary>
public sealed class CliUsageException(string message) : Exception(message);
