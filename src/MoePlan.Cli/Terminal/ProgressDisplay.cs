using Spectre.Console;

namespace MoePlan.Cli.Terminal;

/// <summary>
/// A Spectre.Console progress bar on stderr (stdout keeps only the report), shown only for text output to a terminal:
/// never in JSON or Markdown, never when redirected, never in tests (which pass their own writers).
/// </summary>
internal static class ProgressDisplay
{
    public static bool Shows(string format, TextWriter stdout) =>
        format == "text" && ReferenceEquals(stdout, Console.Out) && !Console.IsOutputRedirected && !Console.IsErrorRedirected;

    /// <summary>Runs <paramref name="work"/>, which reports its progress (0 to <paramref name="maximum"/>) through the callback it is given.</summary>
    public static T Run<T>(string description, double maximum, Func<Action<double>, T> work)
    {
        var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Error) });
        T result = default!;
        console.Progress()
            .AutoClear(true)
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn())
            .Start(context =>
            {
                var task = context.AddTask(description, maxValue: maximum);
                result = work(value => task.Value = value);
            });
        return result;
    }
}
