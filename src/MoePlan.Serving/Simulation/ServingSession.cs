using MoePlan.Core.Compilation;
using MoePlan.Core.Diagnostics;
using MoePlan.Core.Plan;
using MoePlan.Core.Text;
using MoePlan.Serving.Inputs;
using MoePlan.Serving.Proxy;

namespace MoePlan.Serving.Simulation;

/// <summary>The policies a session serves with, in order (one run each), and where it makes them.</summary>
public sealed record ServingPolicySet(PolicyRegistry Registry, IReadOnlyList<string> Names);

/// <summary>
/// Runs one policy's simulation inside the caller's progress display: <paramref name="simulate"/> reports progress from 0
/// to <paramref name="maximum"/> through the callback it is given.
/// </summary>
public delegate SimulationResult ServingProgress(string description, double maximum, Func<Action<double>, SimulationResult> simulate);

/// <summary>What to serve: a plan file and what overrides its workload, policies and proxy.</summary>
/// <param name="PlanFile">The plan (*.moe), read through <paramref name="Sources"/>; its trace is relative to its folder.</param>
/// <param name="ChoosePolicies">
/// The run's policies once the plan is compiled (a scheduler script is compiled against the plan, in a layer above this
/// one); null stops the session, the chooser having reported why.
/// </param>
public sealed record ServingRequest(string PlanFile, ISourceResolver Sources, Func<DeploymentPlan, ServingPolicySet?> ChoosePolicies)
{
    /// <summary>A trace file to serve instead of the plan's workload.</summary>
    public string? TracePath { get; init; }

    /// <summary>The trace's format; null: from its extension (.jsonl Mooncake, .csv Azure).</summary>
    public TraceFormat? TraceFormat { get; init; }

    /// <summary>Serve at most this many requests (the first of a trace).</summary>
    public int? MaxRequests { get; init; }

    /// <summary>The synthetic workload's seed instead of the plan's.</summary>
    public long? Seed { get; init; }

    public int? ProxyWorkers { get; init; }

    public ProxyWorkerState? WorkerState { get; init; }

    /// <summary>Shows each policy's progress; null runs without.</summary>
    public ServingProgress? Progress { get; init; }
}

/// <summary>Why a session stopped before it had served every policy.</summary>
public enum ServingStop
{
    /// <summary>It served every policy.</summary>
    None,

    /// <summary>The request cannot be served as given (a missing or unreadable input, a bad count): <see cref="ServingSessionResult.Usage"/>.</summary>
    Usage,

    /// <summary>The plan has errors: <see cref="ServingSessionResult.Diagnostics"/>.</summary>
    PlanErrors,

    /// <summary>The policy chooser declined (it reported why).</summary>
    NoPolicies,

    /// <summary>The trace has errors: <see cref="ServingSessionResult.Diagnostics"/>.</summary>
    TraceErrors,
}

/// <summary>A usage problem the session found; <see cref="UnknownTraceFormat"/> says the trace's format must be given.</summary>
public sealed record ServingUsageError(string Message, bool UnknownTraceFormat = false);

/// <summary>What a session served (one simulation and its metrics per policy), or why it stopped.</summary>
public sealed record ServingSessionResult(ServingStop Stop)
{
    public ServingUsageError? Usage { get; init; }

    /// <summary>The plan's or the trace's diagnostics when they stopped the session.</summary>
    public IReadOnlyList<Diagnostic> Diagnostics { get; init; } = [];

    public DeploymentPlan? Plan { get; init; }

    /// <summary>The deployment as served (the plan's, with the request's proxy overrides).</summary>
    public ServingConfig? Config { get; init; }

    /// <summary>The cost model's saturated-capacity figures for the same plan, to set the simulated ones against.</summary>
    public Core.Cost.CostReport? Analytic { get; init; }

    public IReadOnlyList<SimulationResult> Runs { get; init; } = [];

    public IReadOnlyList<ServingMetrics> Metrics { get; init; } = [];
}

/// <summary>
/// <c>moeplan run PLAN</c>'s serve sequence (docs/simulation.md): resolves the trace and its format, compiles the plan,
/// checks the plan's trace, takes the policies, then per policy reads the arrivals, makes one policy object per proxy
/// worker (independent workers keep their own state) and simulates the deployment with the request's overrides.
/// </summary>
public static class ServingSession
{
    public static ServingSessionResult Serve(ServingRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        var file = request.PlanFile;
        if (request.MaxRequests is < 1)
        {
            return Stopped($"the request cap must be 1 or more (got {request.MaxRequests})");
        }

        if (request.ProxyWorkers is < 1 or > ProxyPlan.MaxWorkers)
        {
            return Stopped($"proxy workers must be 1 to {ProxyPlan.MaxWorkers}");
        }

        TraceFile? trace = null;
        if (request.TracePath is { } tracePath)
        {
            if (InputFile.Refusal(tracePath) is { } refusal)
            {
                return Stopped($"cannot read trace '{tracePath}': {refusal}");
            }

            var format = request.TraceFormat ?? FormatOf(tracePath);
            if (format is null)
            {
                return new ServingSessionResult(ServingStop.Usage) { Usage = new ServingUsageError($"cannot tell the format of '{tracePath}' from its extension", UnknownTraceFormat: true) };
            }

            trace = new TraceFile(tracePath, format.Value);
        }

        var compiled = PlanCompiler.Compile(file, request.Sources);
        if (compiled.Plan is not { } plan)
        {
            return new ServingSessionResult(ServingStop.PlanErrors) { Diagnostics = compiled.Diagnostics };
        }

        var planDirectory = Path.GetDirectoryName(Path.GetFullPath(file))!;
        if (plan.Workload.Trace is { } planTrace && trace is null && InputFile.Refusal(Path.Combine(planDirectory, planTrace.Path)) is { } planRefusal)
        {
            return Stopped($"cannot read the plan's trace '{planTrace.Path}': {planRefusal}");
        }

        if (request.ChoosePolicies(plan) is not { } policies)
        {
            return new ServingSessionResult(ServingStop.NoPolicies) { Plan = plan };
        }

        var config = ServingConfig.FromPlan(plan);
        config = config with
        {
            ProxyWorkers = request.ProxyWorkers ?? config.ProxyWorkers,
            WorkerState = request.WorkerState ?? config.WorkerState,
        };
        var runs = new List<SimulationResult>();
        foreach (var name in policies.Names)
        {
            // Independent workers each hold their own policy state: one policy object per worker.
            var workerPolicies = new IRoutingPolicy[config.ProxyWorkers];
            for (int w = 0; w < workerPolicies.Length; w++)
            {
                if (!policies.Registry.TryCreate(name, out var created, out var error))
                {
                    return Stopped($"{file}: {error}");
                }

                workerPolicies[w] = created!;
            }

            var diagnostics = new List<Diagnostic>();
            SimulationResult sim;

            // Loads over time and rebalancing: a fresh timeline per run (it keeps the run's state).
            var (drift, driftDiagnostics) = ServingRun.Drift(plan, request.Sources, compiled.LoadWindows);
            if (driftDiagnostics.Any(d => d.IsError))
            {
                return new ServingSessionResult(ServingStop.PlanErrors) { Diagnostics = driftDiagnostics, Plan = plan };
            }

            try
            {
                var read = new TraceReadProgress();
                var arrivals = ServingRun.Arrivals(plan, planDirectory, trace, request.MaxRequests, request.Seed, diagnostics, read);
                var expected = ExpectedRequests(plan, trace, request.MaxRequests);
                // Requests finished out of the known total, else the share of the trace file read.
                sim = request.Progress is not { } progress
                    ? ServingRun.Simulate(config, plan, compiled.Cost, workerPolicies, arrivals, drift: drift)
                    : progress($"serving ({name})", expected ?? 1.0, report =>
                        ServingRun.Simulate(config, plan, compiled.Cost, workerPolicies, arrivals, p => report(expected is null ? read.Fraction : p.Finished), drift: drift));
            }
            catch (ArgumentException e)
            {
                return Stopped($"{file}: {e.Message}");
            }

            if (diagnostics.Any(d => d.IsError))
            {
                return new ServingSessionResult(ServingStop.TraceErrors) { Diagnostics = diagnostics, Plan = plan, Config = config };
            }

            runs.Add(sim);
        }

        return new ServingSessionResult(ServingStop.None)
        {
            Plan = plan,
            Analytic = compiled.Cost?.Report,
            Config = config,
            Runs = runs,
            Metrics = runs.Select(ServingMetrics.From).ToList(),
        };
    }

    /// <summary>A trace's format from its extension; null when the extension does not say.</summary>
    public static TraceFormat? FormatOf(string tracePath) => Path.GetExtension(tracePath).ToLowerInvariant() switch
    {
        ".jsonl" => TraceFormat.Mooncake,
        ".csv" => TraceFormat.Azure,
        _ => null,
    };

    /// <summary>Requests the run will serve when known up front (synthetic or capped); null for a whole trace.</summary>
    private static long? ExpectedRequests(DeploymentPlan plan, TraceFile? trace, int? maxRequests)
    {
        if (trace is not null || plan.Workload.Trace is not null)
        {
            return maxRequests;
        }

        long? planned = plan.Workload.Requests?.Value;
        return maxRequests is { } cap ? Math.Min(cap, planned ?? cap) : planned;
    }

    private static ServingSessionResult Stopped(string message) =>
        new(ServingStop.Usage) { Usage = new ServingUsageError(message) };
}
