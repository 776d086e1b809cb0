using MoePlan.Cli.Terminal;
using MoePlan.Core.Plan;
using MoePlan.Scripting;

namespace MoePlan.Cli.Options;

/// <summary>Options of the serving simulation (run, and search confirmation with a script policy).</summary>
internal sealed record ServingOptions(string? Trace, string? TraceFormat, string? Policy, bool ComparePolicies, int? MaxRequests, int? Seed, string? Scheduler = null, bool SchedulerFallback = false)
{
    public int? ProxyWorkers { get; init; }

    public string? WorkerState { get; init; }

    public string? Report { get; init; }

    public bool Force { get; init; }

    /// <summary>The <c>--set</c> overrides of the plan's settings.</summary>
    public IReadOnlyList<string> Set { get; init; } = [];

    /// <summary>Times a dead script host is started again under fallback (the live proxy's).</summary>
    public int ScriptRestarts { get; init; }

    /// <summary>The run's policies (the plan's, --policy, or a scheduler script); null when the script has errors (printed).</summary>
    public ServingPolicies? ResolvePolicies(string file, DeploymentPlan plan, TextWriter stderr)
    {
        if (Scheduler is not null && Policy is not null)
        {
            throw new CliUsageException("give --policy or --scheduler, not both");
        }

        if (Scheduler is { } script)
        {
            InputPaths.RequireFile(script, "scheduler script ");
        }

        var (policies, diagnostics) = ServingPolicies.Resolve(file, plan, new PolicyChoice(Policy, Scheduler, ComparePolicies, SchedulerFallback, ScriptRestarts));
        if (policies is null)
        {
            DiagnosticPrinter.WriteText(stderr, diagnostics);
            stderr.WriteLine($"{file}: not run: {diagnostics.Count(d => d.IsError)} error(s) in the scheduler script");
        }

        return policies;
    }
}
