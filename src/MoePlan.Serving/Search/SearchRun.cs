using System.Diagnostics;
using MoePlan.Core.Compilation;
using MoePlan.Core.Plan;
using MoePlan.Core.Search;
using MoePlan.Core.Text;
using MoePlan.Serving.Proxy;

namespace MoePlan.Serving.Search;

/// <summary>How the top candidates are confirmed by simulation.</summary>
/// <param name="Simulate">Simulate each winner (off: re-placed figures only).</param>
/// <param name="Requests">Requests of the plan's workload each winner serves.</param>
/// <param name="RankBySimulation">Final order by simulated goodput per rank instead of the re-placed cost model.</param>
/// <param name="Threshold">Disagreement (a fraction) above which a figure is flagged.</param>
public sealed record Confirming(bool Simulate, int Requests, bool RankBySimulation, double Threshold)
{
    /// <summary>Requests each top candidate is simulated with by default: a few seconds for ten candidates.</summary>
    public const int DefaultRequests = 5000;

    public static readonly Confirming Default = new(true, DefaultRequests, false, 0.25);
}

/// <summary>
/// Runs the enumeration for the caller, e.g. under a progress bar: <paramref name="search"/> reports the candidates
/// enumerated so far (0 to <paramref name="candidates"/>) through the callback it is given, or nothing given null.
/// </summary>
public delegate SearchResult SearchProgress(long candidates, Func<Action<long>?, SearchResult> search);

/// <summary>A search around a compiled plan.</summary>
/// <param name="PlanFile">The base plan's path: trace paths, and relative paths of written plans, are relative to its folder.</param>
/// <param name="Compiled">The base plan compiled through placement and cost (<see cref="PlanCompiler.Compile"/> without errors).</param>
/// <param name="Resolver">Reads the plan's files (imports, loads) to re-place the winners and to read the base plan's text.</param>
/// <param name="Varied">Dimensions replacing or adding to the plan's sweep block (<see cref="SearchSpace.ParseVary"/>).</param>
/// <param name="Top">Candidates to rank (meeting the SLOs, by output tokens/s per rank).</param>
/// <param name="Devices">Cap on the cluster (whole nodes); null: the sweep block's <c>devices</c>, else the plan's cluster.</param>
public sealed record SearchRequest(
    string PlanFile,
    CompilationResult Compiled,
    ISourceResolver Resolver,
    IReadOnlyList<DimensionValues> Varied,
    int Top,
    int? Devices,
    Confirming Confirming)
{
    /// <summary>Creates the plan's scheduler-script policy (<c>policy script "..."</c>) to simulate the winners with:
    /// Scripting references Serving, so only the caller can compile the script. Without it such winners are not simulated.</summary>
    public Func<IRoutingPolicy>? ScriptPolicy { get; init; }

    /// <summary>Wraps the enumeration (to show progress); null runs it as is.</summary>
    public SearchProgress? Progress { get; init; }
}

/// <summary>The enumeration's size and speed.</summary>
/// <param name="Seconds">Wall-clock time of the enumeration and costing (not of re-placement or simulation).</param>
public sealed record SearchStats(long Candidates, SearchResult Result, double Seconds)
{
    public double CandidatesPerSecond => Result.Enumerated / Seconds;

    /// <summary>Cost-model evaluations (valid candidates) per second.</summary>
    public double EvaluationsPerSecond => Result.Evaluated / Seconds;
}

/// <summary>A top candidate after re-placement, with its simulation when it ran.</summary>
public sealed record SearchWinner(ReplacedCandidate Candidate, SimulatedConfirmation? Simulation);

/// <summary>What a search found: the space, the frontiers and counts, the winners in their final order.</summary>
public sealed record SearchReport(SearchRequest Request, SearchSpace Space, SearchResult Result, IReadOnlyList<SearchWinner> Winners, SearchStats Stats)
{
    /// <summary>The files written for this report (the winners' plans first, in rank order), as the caller names them.</summary>
    public IReadOnlyList<string> Written { get; init; } = [];

    public string Name => Request.Compiled.Plan!.Name.Value;

    public Confirming Confirming => Request.Confirming;
}

/// <summary><c>moeplan search</c>'s work: search the space around a plan, re-place the top candidates, confirm them by simulation.</summary>
public static class SearchRun
{
    /// <summary>
    /// Enumerates and costs the space (the plan's sweep block with <see cref="SearchRequest.Varied"/> over it), keeps the
    /// frontiers and the top candidates, re-places and re-ranks those, then (unless <see cref="Confirming.Simulate"/> is
    /// off) serves each with the plan's workload. Returns null with a message when the space cannot be built for this
    /// plan (a bad device cap, a choice the plan cannot take). A scheduler-script policy's exceptions propagate.
    /// </summary>
    public static SearchReport? Execute(SearchRequest request, out string error)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentOutOfRangeException.ThrowIfLessThan(request.Top, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(request.Confirming.Requests, 1);
        var compiled = request.Compiled;
        if (compiled.Plan is not { } plan || compiled.Syntax is null || compiled.Cost is not { } cost)
        {
            throw new ArgumentException($"{compiled.Path}: the plan did not compile through cost", nameof(request));
        }

        var dimensions = SearchSpace.WithOverrides(plan.Sweep, request.Varied);
        if (SearchSpace.Create(plan, dimensions, request.Devices ?? plan.Sweep?.Devices?.Value, out error) is not { } space)
        {
            return null;
        }

        // Placement ran once, on the base plan; every candidate is costed with its imbalances.
        var imbalances = cost.Options;
        var top = request.Top;
        var watch = Stopwatch.StartNew();
        var result = request.Progress is { } progress
            ? progress(space.Count, report => DesignSpaceSearch.Run(space, imbalances, top, report))
            : DesignSpaceSearch.Run(space, imbalances, top);
        watch.Stop();
        var seconds = Math.Max(watch.Elapsed.TotalSeconds, 1e-9);

        var winners = Confirm(request, result);
        return new SearchReport(request, space, result, winners, new SearchStats(space.Count, result, seconds));
    }

    /// <summary>The winners placed for their own EP and redundant experts and re-costed, then (unless not simulating)
    /// served by the simulation with the plan's workload and, on request, ranked by it.</summary>
    private static List<SearchWinner> Confirm(SearchRequest request, SearchResult result)
    {
        var confirming = request.Confirming;
        var replaced = WinnerReplacement.ReplaceAndRank(result.Top, request.Resolver, request.Compiled.Cost!.Options);
        if (!confirming.Simulate)
        {
            return [.. replaced.Select(r => new SearchWinner(r, null))];
        }

        var planDirectory = Path.GetDirectoryName(Path.GetFullPath(request.PlanFile))!;
        var simulated = replaced.Select(r => SimulatedConfirmation.Run(r, planDirectory, confirming.Requests, seed: null, request.ScriptPolicy)).ToList();
        var ordered = confirming.RankBySimulation ? SimulatedConfirmation.RankBySimulation(simulated) : simulated;
        return [.. ordered.Select(c => new SearchWinner(c.Candidate, c))];
    }
}
