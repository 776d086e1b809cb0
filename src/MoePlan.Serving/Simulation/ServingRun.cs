using MoePlan.Core.Cost;
using MoePlan.Core.Diagnostics;
using MoePlan.Core.Placement;
using MoePlan.Core.Plan;
using MoePlan.Core.Text;
using MoePlan.Core.Workloads;
using MoePlan.Serving.Inputs;
using MoePlan.Serving.Proxy;
using MoePlan.Serving.Workloads;

namespace MoePlan.Serving.Simulation;

/// <summary>A trace given on the command line instead of the plan's workload.</summary>
public sealed record TraceFile(string Path, TraceFormat Format);

/// <summary>How much of a trace file has been read (a progress bar's measure when the number of requests is unknown).</summary>
public sealed class TraceReadProgress
{
    private FileStream? _stream;
    private bool _finished;

    /// <summary>Bytes read over the file's length (the reader's buffer runs a little ahead); 0 before reading, 1 after.</summary>
    public double Fraction => _finished ? 1 : _stream is { Length: > 0 } s ? (double)s.Position / s.Length : 0;

    internal void Attach(FileStream file) => _stream = file;

    /// <summary>The file is read to its end (and closed).</summary>
    internal void Finish()
    {
        _finished = true;
        _stream = null;
    }
}

/// <summary>Sets up and runs the serving simulation of a compiled plan.</summary>
public static class ServingRun
{
    /// <summary>
    /// The plan's arrivals, streamed: the given trace, else the plan's trace (relative to the plan's folder),
    /// else the synthetic workload. Trace problems land in <paramref name="diagnostics"/> as they are read.
    /// </summary>
    public static IEnumerable<ArrivingRequest> Arrivals(DeploymentPlan plan, string planDirectory, TraceFile? trace, int? maxRequests, long? seed, ICollection<Diagnostic> diagnostics, TraceReadProgress? read = null)
    {
        trace ??= plan.Workload.Trace is { } t ? new TraceFile(Path.Combine(planDirectory, t.Path), t.Format) : null;
        if (trace is not null)
        {
            var rows = ReadTrace(trace, diagnostics, read);
            return maxRequests is { } cap ? rows.Take(cap) : rows;
        }

        int requests = maxRequests ?? plan.Workload.Requests?.Value
            ?? throw new ArgumentException("the workload sets no number of requests ('requests N'); give --max-requests N");
        if (plan.Workload.Requests is { } planned)
        {
            requests = Math.Min(requests, planned.Value);
        }

        return SyntheticWorkload.Generate(plan.Workload, requests, seed);
    }

    /// <summary>A trace file's requests, streamed; problems land in <paramref name="diagnostics"/> as they are read.</summary>
    public static IEnumerable<ArrivingRequest> ReadTrace(TraceFile trace, ICollection<Diagnostic> diagnostics, TraceReadProgress? read = null)
    {
        // Checked before the run starts; a file swapped for a device or FIFO since then is still refused, not read.
        using var stream = InputFile.TryOpen(trace.Path, out var error) ?? throw new IOException($"cannot read trace '{trace.Path}': {error}");
        read?.Attach(stream);
        using var reader = new StreamReader(stream);
        var rows = trace.Format == TraceFormat.Mooncake
            ? MooncakeTraceReader.Read(reader, trace.Path, diagnostics, new TiktokenPromptBlocks())
            : AzureTraceReader.Read(reader, trace.Path, diagnostics);
        foreach (var row in rows)
        {
            yield return row;
        }

        read?.Finish();
    }

    public static SimulationResult Simulate(DeploymentPlan plan, PlanCostResult? cost, IRoutingPolicy policy, IEnumerable<ArrivingRequest> arrivals) =>
        Simulate(ServingConfig.FromPlan(plan), plan, cost, [policy], arrivals);

    /// <summary>Runs <paramref name="config"/> (the plan's, possibly overridden) with one policy object per proxy worker.</summary>
    /// <param name="drift">Loads over time and rebalancing (<see cref="Drift"/>; one per run: it keeps the run's state); null: fixed imbalances.</param>
    public static SimulationResult Simulate(ServingConfig config, DeploymentPlan plan, PlanCostResult? cost, IReadOnlyList<IRoutingPolicy> workerPolicies, IEnumerable<ArrivingRequest> arrivals, Action<SimulationProgress>? progress = null, bool retainRequests = false, PlacementDrift? drift = null)
    {
        // The placement stage's imbalances when it ran; else the cost model's default.
        bool placed = cost?.Report is not null;
        var steps = new CostModelStepTimes(plan, placed ? cost!.PrefillImbalance : PlanCostModel.DefaultStaticImbalance, placed ? cost!.DecodeImbalance : PlanCostModel.DefaultStaticImbalance);
        return new ServingSimulation(config, steps, workerPolicies, retainRequests) { Progress = progress, Drift = drift }.Run(arrivals);
    }

    /// <summary>
    /// The plan's placement over serving time when it has <c>loads_over_time</c> or <c>rebalance</c> (else null, no
    /// diagnostics): both pools placed as the plan says, stepping through <paramref name="windows"/> (the compiled plan's).
    /// </summary>
    public static (PlacementDrift? Drift, IReadOnlyList<Diagnostic> Diagnostics) Drift(DeploymentPlan plan, ISourceResolver resolver, LoadWindows? windows)
    {
        ArgumentNullException.ThrowIfNull(plan);
        if (!PlanRebalancing.Applies(plan))
        {
            return (null, []);
        }

        if (plan.IsAggregated)
        {
            // One pool prefills and decodes: one timeline, both its steps and its rebalances counted once.
            var (serve, serveDiagnostics) = PlanRebalancing.TimelineOf(plan, PoolRole.Serve, resolver, windows);
            return serve is null
                ? (null, serveDiagnostics)
                : (new PlacementDrift(serve, serve, plan.Decode.Instances.Value, plan.Decode.Instances.Value, plan.Placement.LoadsOverTime?.Value, plan.Placement.Rebalance?.Describe(plan.Placement.Algorithm.Value) ?? "off"), serveDiagnostics);
        }

        var (prefill, prefillDiagnostics) = PlanRebalancing.TimelineOf(plan, PoolRole.Prefill, resolver, windows);
        var (decode, decodeDiagnostics) = PlanRebalancing.TimelineOf(plan, PoolRole.Decode, resolver, windows);
        var diagnostics = prefillDiagnostics.AddRange(decodeDiagnostics.Where(d => !prefillDiagnostics.Contains(d)));
        if (prefill is null || decode is null)
        {
            return (null, diagnostics);
        }

        var rebalance = plan.Placement.Rebalance?.Describe(plan.Placement.Algorithm.Value) ?? "off";
        return (new PlacementDrift(prefill, decode, plan.Prefill.Instances.Value, plan.Decode.Instances.Value, plan.Placement.LoadsOverTime?.Value, rebalance), diagnostics);
    }
}
