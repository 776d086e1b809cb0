namespace MoePlan.Core.Diagnostics;

/// <summary>
/// MP4001..MP4099: C# scheduler scripts (docs/scheduler-scripts.md). MP400x compile time (nothing of the
/// script runs), MP402x run time (a hook call was stopped or failed).
/// </summary>
public static partial class DiagnosticCodes
{
    public static readonly DiagnosticDescriptor ScriptCompileError = new(
        "MP4001", DiagnosticSeverity.Error, "Script does not compile", "{0}: {1}");

    public static readonly DiagnosticDescriptor ScriptDirective = new(
        "MP4002", DiagnosticSeverity.Error, "Script directive not allowed", "'{0}' is not allowed: a scheduler script references only the scheduler API");

    public static readonly DiagnosticDescriptor ScriptForbiddenApi = new(
        "MP4003", DiagnosticSeverity.Error, "API not allowed in a script", "'{0}' is not allowed in a scheduler script: {1}");

    public static readonly DiagnosticDescriptor ScriptForbiddenConstruct = new(
        "MP4004", DiagnosticSeverity.Error, "Construct not allowed in a script", "{0} is not allowed in a scheduler script");

    public static readonly DiagnosticDescriptor ScriptStaticState = new(
        "MP4005", DiagnosticSeverity.Error, "Mutable static state in a script", "static '{0}' is mutable: state would outlive a run; use an instance field (one scheduler instance serves one run) or a const");

    public static readonly DiagnosticDescriptor ScriptCatchAll = new(
        "MP4006", DiagnosticSeverity.Error, "Catch-all clause in a script", "a catch clause that catches every exception is not allowed in a scheduler script; catch a specific exception type");

    public static readonly DiagnosticDescriptor ScriptNoScheduler = new(
        "MP4007", DiagnosticSeverity.Error, "Script makes no scheduler", "the script must end with an expression that makes the scheduler, e.g. `new MyScheduler()`, of a class deriving from MoePlan.Scheduling.Scheduler");

    public static readonly DiagnosticDescriptor ScriptNotFound = new(
        "MP4008", DiagnosticSeverity.Error, "Script file not found", "cannot read the scheduler script '{0}': {1}");

    public static readonly DiagnosticDescriptor ScriptTooComplex = new(
        "MP4009", DiagnosticSeverity.Error, "Script too large or too deeply nested", "{0} (the limit is {1}); the script is not compiled");

    public static readonly DiagnosticDescriptor ScriptCompilerFailed = new(
        "MP4010", DiagnosticSeverity.Error, "The C# compiler failed on the script", "the C# compiler failed on this script: {0}");

    public static readonly DiagnosticDescriptor ScriptHookOverBudget = new(
        "MP4020", DiagnosticSeverity.Error, "Script hook stopped", "{0} {1} (budget per call: {2}); the run is stopped");

    public static readonly DiagnosticDescriptor ScriptHookThrew = new(
        "MP4021", DiagnosticSeverity.Error, "Script hook threw", "{0} threw {1}: {2}");

    public static readonly DiagnosticDescriptor ScriptHookBadDecision = new(
        "MP4022", DiagnosticSeverity.Error, "Script hook returned an invalid decision", "{0} returned {1}: {2}");

    public static readonly DiagnosticDescriptor ScriptHostCrashed = new(
        "MP4023", DiagnosticSeverity.Error, "Script host crashed", "the script host process died during {0}: {1}");
}
