using MoePlan.Core.Diagnostics;
using MoePlan.Core.Plan;
using MoePlan.Serving.Inputs;
using MoePlan.Serving.Proxy;

namespace MoePlan.Scripting;

/// <summary>Which policy a serving run uses: the plan's, another built-in by name, or a scheduler script.</summary>
/// <param name="Policy">A built-in policy instead of the plan's (<c>--policy</c>).</param>
/// <param name="SchedulerScript">A scheduler script instead of the plan's policy (<c>--scheduler FILE.csx</c>).</param>
/// <param name="ComparePolicies">Every built-in (and the script, if any) on the same arrivals.</param>
/// <param name="Fallback">A failing script hook takes the default policy's decision instead of ending the run.</param>
/// <param name="ScriptRestarts">Times a dead script host is started again under fallback (<see cref="ScriptPolicy.MaxRestarts"/>).</param>
public sealed record PolicyChoice(string? Policy = null, string? SchedulerScript = null, bool ComparePolicies = false, bool Fallback = false, int ScriptRestarts = 0);

/// <summary>
/// The policies of a serving run when a scheduler script may be in play (<c>--scheduler FILE.csx</c>, or the plan's
/// <c>policy script "x.csx"</c>): the script is compiled (or taken from the cache) and registered next to the
/// built-ins under its file name.
/// </summary>
public sealed class ServingPolicies : IDisposable
{
    private readonly List<ScriptPolicy> _made = [];

    private ServingPolicies(PolicyRegistry registry, IReadOnlyList<string> names, string? scriptPath)
    {
        Registry = registry;
        Names = names;
        ScriptPath = scriptPath;
    }

    public PolicyRegistry Registry { get; }

    /// <summary>The policies to run, in order.</summary>
    public IReadOnlyList<string> Names { get; }

    /// <summary>The script's path, when a script is in play.</summary>
    public string? ScriptPath { get; }

    /// <summary>Hook calls that took the default decision (with a fallback), over every run.</summary>
    public int Fallbacks => _made.Sum(p => p.Fallbacks);

    /// <summary>
    /// The run's policies, or the script's diagnostics when it does not compile. <paramref name="planFile"/> locates the
    /// plan's own script (relative to the plan's folder); the caller checks that a <c>--scheduler</c> file exists.
    /// </summary>
    public static (ServingPolicies? Policies, IReadOnlyList<Diagnostic> Diagnostics) Resolve(string planFile, DeploymentPlan plan, PolicyChoice choice)
    {
        ArgumentNullException.ThrowIfNull(plan);
        ArgumentNullException.ThrowIfNull(choice);
        if (choice.SchedulerScript is not null && choice.Policy is not null)
        {
            throw new ArgumentException("give a policy or a scheduler script, not both");
        }

        var script = choice.SchedulerScript ?? (choice.Policy is null ? PlanScriptPath(planFile, plan) : null);
        var registry = new PolicyRegistry();
        if (script is null)
        {
            return (new ServingPolicies(registry, choice.ComparePolicies ? registry.Names : [choice.Policy ?? plan.Proxy.Policy.Value], null), []);
        }

        var load = Load(script, plan, plansOwn: choice.SchedulerScript is null);
        if (load.Script is not { } compiled)
        {
            return (null, load.Diagnostics);
        }

        var policies = new ServingPolicies(registry, choice.ComparePolicies ? [.. RoutingPolicyCatalog.BuiltNames, compiled.Name] : [compiled.Name], script);
        registry.Add(compiled.Name, () =>
        {
            var policy = new ScriptPolicy(compiled, ScriptBudgetOptions.Default, choice.Fallback) { MaxRestarts = choice.ScriptRestarts };
            policies._made.Add(policy);
            return policy;
        });
        return (policies, []);
    }

    /// <summary>A new policy of that name; the registry's error when it has none.</summary>
    public IRoutingPolicy Create(string name) =>
        Registry.TryCreate(name, out var policy, out var error) ? policy! : throw new ArgumentException(error);

    /// <summary>
    /// <c>moeplan check</c>: compiles and checks the plan's script (from the cache when unchanged); its
    /// diagnostics, empty when the plan names no script or the script is fine.
    /// </summary>
    public static IReadOnlyList<Diagnostic> CheckPlanScript(string planFile, DeploymentPlan plan) =>
        PlanScriptPath(planFile, plan) is { } script ? Load(script, plan, plansOwn: true).Diagnostics : [];

    /// <summary>
    /// With a fallback: a warning saying how many decisions the default policy made for the script, and the first
    /// failure; null when none.
    /// </summary>
    public string? FallbackWarning() =>
        Fallbacks > 0
            ? $"{Path.GetFileName(ScriptPath)}: {Fallbacks} hook call(s) failed and took the default policy's decision (--scheduler-fallback){(_made.Any(p => p.Disabled) ? "; after a failure it could not recover from, the script was not called again and the rest of the run is the default policy's" : "")}; the first: {_made.SelectMany(p => p.Failures).First()}"
            : null;

    /// <summary>Ends the script hosts of the runs.</summary>
    public void Dispose()
    {
        foreach (var policy in _made)
        {
            policy.Dispose();
        }
    }

    private static string? PlanScriptPath(string planFile, DeploymentPlan plan) =>
        plan.Proxy.ScriptPath is { } planScript ? Path.Combine(Path.GetDirectoryName(Path.GetFullPath(planFile))!, planScript.Value) : null;

    /// <summary>The script compiled or from the cache; a plan's script that is missing is MP4008 at the plan's line.</summary>
    private static ScriptLoad Load(string script, DeploymentPlan plan, bool plansOwn)
    {
        // The plan's own script that cannot be read (missing, a device, a FIFO) is reported at the plan's line.
        if (plansOwn && InputFile.Refusal(script) is { } refusal && plan.Proxy.ScriptPath is { } named)
        {
            return new ScriptLoad(null, [DiagnosticCodes.ScriptNotFound.Create(named.Span, named.Value, refusal == "no such file" ? "no such file (paths are relative to the plan's folder)" : refusal)], false);
        }

        return SchedulerScriptCompiler.Load(script);
    }
}
