namespace MoePlan.Core.Diagnostics;

/// <summary>MP5701..MP5719: load windows files (<c>placement { loads_over_time "file" }</c>, docs/placement.md).</summary>
public static partial class DiagnosticCodes
{
    public static readonly DiagnosticDescriptor LoadWindowsEmpty = new(
        "MP5701", DiagnosticSeverity.Error, "No load windows", "the load windows file lists no window; give one `DURATION FILE` line per window");

    public static readonly DiagnosticDescriptor LoadWindowsLine = new(
        "MP5702", DiagnosticSeverity.Error, "Bad load window line", "expected `DURATION FILE` (e.g. `60s loads.json`), found '{0}'");

    public static readonly DiagnosticDescriptor LoadWindowsDuration = new(
        "MP5703", DiagnosticSeverity.Error, "Bad window duration", "the window duration '{0}' is not a positive duration with a unit (ms, s, min or h)");

    public static readonly DiagnosticDescriptor LoadWindowsMissingFile = new(
        "MP5704", DiagnosticSeverity.Error, "Window loads not found", "window {0}: cannot read the expert-load file '{1}': {2}");

    public static readonly DiagnosticDescriptor LoadWindowsBadLoads = new(
        "MP5705", DiagnosticSeverity.Error, "Window loads do not fit the model", "window {0}: the expert-load file '{1}' does not fit {2}: {3}");

    public static readonly DiagnosticDescriptor LoadWindowsTooMany = new(
        "MP5706", DiagnosticSeverity.Error, "Too many load windows", "the file lists more than {0} windows; merge windows (each one is a load table held in memory)");
}
