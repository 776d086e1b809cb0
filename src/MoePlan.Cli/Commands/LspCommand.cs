using System.CommandLine;
using MoePlan.Cli.Files;
using MoePlan.LanguageServer;

namespace MoePlan.Cli.Commands;

/// <summary><c>moeplan lsp</c>: the language server over standard input and output (editors start it).</summary>
internal static class LspCommand
{
    public static Command Create()
    {
        var debounce = new Option<int>("--debounce-ms")
        {
            Description = "Milliseconds after the last change before a document is compiled and its diagnostics sent.",
            DefaultValueFactory = _ => new LanguageServerOptions().DebounceMilliseconds,
        };
        var command = new Command("lsp", """
            Language Server Protocol server over stdio for .moe plans: diagnostics as you type (the codes, ranges and
            hints of check, imported files and scheduler scripts included), hover, completion, go to definition,
            formatting and quick fixes. Started by an editor (editors/vscode/ holds a client), not by hand.
            """)
        {
            debounce,
        };
        command.SetAction(async (parse, cancellation) =>
        {
            if (parse.GetValue(debounce) is var ms and (< 0 or > 10_000))
            {
                throw new CliUsageException($"--debounce-ms must be 0 to 10000, found {ms}");
            }

            var server = new PlanLanguageServer(Console.OpenStandardInput(), Console.OpenStandardOutput(), new FileSystemSourceResolver(), new LanguageServerOptions(parse.GetValue(debounce)));
            return await server.RunAsync(cancellation);
        });
        return command;
    }
}
