namespace MoePlan.Cli.Terminal;

/// <summary>A scheduler-script hook stopped a run or a search's confirmation (exit 1).</summary>
internal static class ScriptStopReport
{
    public static int Write(string file, Scripting.SchedulerHookException e, TextWriter stderr)
    {
        DiagnosticPrinter.WriteText(stderr, [e.Diagnostic]);
        stderr.WriteLine($"{file}: run stopped: the scheduler script failed (give --scheduler-fallback to use the default policy's decision instead)");
        return ExitCodes.Diagnostics;
    }
}
