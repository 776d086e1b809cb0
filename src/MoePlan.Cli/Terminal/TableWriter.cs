using Spectre.Console;

namespace MoePlan.Cli.Terminal;

/// <summary>Spectre.Console tables rendered as plain text of a fixed width, so output is the same on every terminal.</summary>
internal static class TableWriter
{
    public static void Write(TextWriter writer, Table table)
    {
        var console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Ansi = AnsiSupport.No,
            ColorSystem = ColorSystemSupport.NoColors,
            Out = new AnsiConsoleOutput(writer),
            Interactive = InteractionSupport.No,
        });
        console.Profile.Width = 160;
        console.Write(table);
    }
}
