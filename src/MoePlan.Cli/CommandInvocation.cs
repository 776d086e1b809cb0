using System.CommandLine;
using MoePlan.Cli.Terminal;

namespace MoePlan.Cli;

/// <summary>Exit codes: 0 ok, 1 diagnostics with errors, 2 usage or I/O error.</summary>
public static class ExitCodes
{
    public const int Ok = 0;
    public const int Diagnostics = 1;
    public const int UsageOrIo = 2;
}

/// <summary>A usage or I/O problem the CLI reports with exit code 2 (never a stack trace).</summary>
public sealed class CliUsageException(string message) : Exception(message);

/// <summary>Parses and runs a command tree with the CLI's own error wording; shared by <c>moeplan</c> and <c>moeplan-check</c>.</summary>
public static class CommandInvocation
{
    public static int Invoke(RootCommand root, string[] args, TextWriter stdout, TextWriter stderr)
    {
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
