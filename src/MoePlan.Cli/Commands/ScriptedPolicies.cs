using MoePlan.Core.Diagnostics;
using MoePlan.Core.Plan;
using MoePlan.Scripting;
using MoePlan.Serving.Proxy;

namespace MoePlan.Cli.Commands;

/// <summary>
/// The policies of a serving run when a scheduler script is in play (<c>--scheduler FILE.csx</c>, or the plan's
/// <c>policy script "x.csx"</c>): the script is compiled (or taken from the cache) and registered next to the
/// built-ins under its file name.
/// </summary>
internal sealed class ScriptedPolicies
{
    private readonly List<ScriptPolicy> _made = [];

    private ScriptedPolicies(PolicyRegistry registry, IReadOnlyList<string> names, string? scriptPath)
    {
        Registry = registry;
        Names = names;
        ScriptPath = scriptPath;
    }

    public PolicyRegistry Registry { get; }

    /// <summary>The policies to run, in order.</summary>
    public IReadOnlyList<string> Names { get; }

    public string? ScriptPath { get; }

    /// <summary>Hook calls that took the default decision (with --scheduler-fallback), over every run.</summary>
    public int Fallbacks => _made.Sum(p => p.Fallbacks);

    /// <summary>The run's policies; null when the script has errors (printed to <paramref name="stderr"/>).</summary>
    public static ScriptedPolicies? Resolve(string file, DeploymentPlan plan, RunCommand.ServingOptions options, TextWriter stderr)
    {
        if (options.Scheduler is not null && options.Policy is not null)
        {
            throw new CliUsageException("give --policy or --scheduler, not both");
        }

        string? script = options.Scheduler
            ?? (options.Policy is null && plan.Proxy.ScriptPath is { } planScript ? Path.Combine(Path.GetDirectoryName(Path.GetFullPath(file))!, planScript.Value) : null);
        var registry = new PolicyRegistry();
        if (script is null)
        {
            return new ScriptedPolicies(registry, options.ComparePolicies ? registry.Names : [options.Policy ?? plan.Proxy.Policy.Value], null);
        }

        if (options.Scheduler is not null && !File.Exists(script))
        {
            throw new CliUsageException($"cannot read scheduler script '{script}': no such file");
        }

        var load = Load(script, plan);
        if (load.Script is not { } compiled)
        {
            DiagnosticPrinter.WriteText(stderr, load.Diagnostics);
            stderr.WriteLine($"{file}: not run: {load.Diagnostics.Count(d => d.IsError)} error(s) in the scheduler script");
            return null;
        }

        var policies = new ScriptedPolicies(registry, options.ComparePolicies ? [.. RoutingPolicyCatalog.BuiltNames, compiled.Name] : [compiled.Name], script);
        registry.Add(compiled.Name, () =>
        {
            var policy = new ScriptPolicy(compiled, ScriptBudgetOptions.Default, options.SchedulerFallback);
            policies._made.Add(policy);
            return policy;
        });
        return policies;
    }

    /// <summary>
    /// <c>moeplan check</c>: compiles and checks the plan's script (from the cache when unchanged); its
    /// diagnostics, empty when the plan names no script or the script is fine.
    /// </summary>
    public static IReadOnlyList<Diagnostic> CheckPlanScript(string file, DeploymentPlan plan) =>
        plan.Proxy.ScriptPath is { } planScript
            ? Load(Path.Combine(Path.GetDirectoryName(Path.GetFullPath(file))!, planScript.Value), plan).Diagnostics
            : [];

    /// <summary>The script compiled or from the cache; a plan's script that is missing is MP4008 at the plan's line.</summary>
    private static ScriptLoad Load(string script, DeploymentPlan plan)
    {
        if (!File.Exists(script) && plan.Proxy.ScriptPath is { } named)
        {
            return new ScriptLoad(null, [DiagnosticCodes.ScriptNotFound.Create(named.Span, named.Value, "no such file (paths are relative to the plan's folder)")], false);
        }

        return SchedulerScriptCompiler.Load(script);
    }

    /// <summary>Prints a stopped hook (the run ends with exit 1).</summary>
    public static int Stopped(string file, SchedulerHookException e, TextWriter stderr)
    {
        DiagnosticPrinter.WriteText(stderr, [e.Diagnostic]);
        stderr.WriteLine($"{file}: run stopped: the scheduler script failed (give --scheduler-fallback to use the default policy's decision instead)");
        return ExitCodes.Diagnostics;
    }

    /// <summary>With --scheduler-fallback: how many decisions the default policy made for the script.</summary>
    public void ReportFallbacks(TextWriter stderr)
    {
        if (Fallbacks > 0)
        {
            stderr.WriteLine($"moeplan: warning: {Path.GetFileName(ScriptPath)}: {Fallbacks} hook call(s) failed and took the default policy's decision (--scheduler-fallback)");
        }
    }

}
