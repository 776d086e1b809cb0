using System.Collections.Immutable;
using System.Globalization;
using MoePlan.Core.Diagnostics;
using MoePlan.Core.Plan;
using MoePlan.Core.Text;

namespace MoePlan.Core.Placement;

/// <summary>Loads to use instead of the plan's <c>placement.loads</c> (the CLI's <c>--load</c> and <c>--synthetic</c>).</summary>
public abstract record LoadOverride;

/// <summary>An expert-load file, read through the resolver with the path as given (the CLI passes a path relative to the working folder).</summary>
public sealed record LoadFileOverride(string Path) : LoadOverride;

/// <summary>
/// Several expert-load files: the placement is for the traffic they stand for together. Every algorithm places on their
/// mean (each file normalised per layer, so each counts once); moeplan's then lowers <paramref name="Objective"/> over
/// the files (see <see cref="PlacementProblem.CreateRobust"/>).
/// </summary>
public sealed record LoadFilesOverride(ImmutableArray<string> Paths, RobustObjective Objective = RobustObjective.WorstCase) : LoadOverride;

/// <summary>Synthetic loads with this seed (the pool's profile, the model's layers and experts).</summary>
public sealed record SyntheticLoadOverride(ulong Seed) : LoadOverride;

/// <summary>The placement problem of one pool of a plan, with what its loads came from.</summary>
/// <param name="LoadsDescription">For people: the file path, or "synthetic seed N, decode profile".</param>
public sealed record PoolPlacementProblem(PoolRole Pool, PlacementProblem Problem, string LoadsDescription);

/// <summary>What placing one pool produced: the problem, the placement and its metrics, or the diagnostics that say why not.</summary>
public sealed record PoolPlacementResult(
    PoolPlacementProblem? Problem,
    ExpertPlacement? Placement,
    PlacementMetrics? Metrics,
    ImmutableArray<Diagnostic> Diagnostics)
{
    public bool Succeeded => Metrics is not null;

    public bool HasErrors => Diagnostics.Any(d => d.IsError);
}

/// <summary>
/// Builds and solves the expert-placement problem of a compiled plan's pool. Physical slots per layer: routed +
/// <c>placement.redundant_experts</c>; devices: the pool's EP ranks; devices per node: the ranks of one node
/// (<c>cluster.devices_per_node</c> x dies per package), or all EP ranks when they fit in one node; expert groups from the
/// model; uneven mode and caps from the placement block (the most experts one rank holds = routed / EP rounded up +
/// <c>max_redundant_per_device</c>; the most copies of one expert = 1 + <c>max_redundant_per_expert</c>).
/// <para>
/// Loads: the <c>placement.loads</c> file (resolved relative to the file that names it, read through the
/// <see cref="ISourceResolver"/>: Core does no I/O) or synthetic loads with the plan's seed, the model's MoE layers and
/// routed experts, and the pool's profile (decode loads for the decode pool, prefill for prefill). A file has one row per
/// model layer (dense layers all zero, as SGLang records them; they are dropped) or one row per MoE layer.
/// </para>
/// </summary>
public static class PlanPlacement
{
    /// <summary>The deployment side of the pool's problem (no loads needed).</summary>
    public static PlacementShape ShapeOf(DeploymentPlan plan, PoolRole pool)
    {
        ArgumentNullException.ThrowIfNull(plan);
        var a = plan.Model.Entry.Architecture;
        var p = plan.Placement;
        var ep = PoolOf(plan, pool).Parallel.ExpertParallel.Value;
        var ranksPerNode = plan.Cluster.DevicesPerNode.Value * plan.Hardware.Value.DiesPerPackage;
        int? maxSlots = p.Uneven.Value && p.MaxRedundantPerDevice is { } perDevice
            ? ((a.RoutedExperts + ep - 1) / ep) + perDevice.Value
            : null;
        int? maxReplicas = p.MaxRedundantPerExpert is { } perExpert ? Math.Min(1 + perExpert.Value, ep) : null;
        return new PlacementShape(a.RoutedExperts + p.RedundantExperts.Value, ep, Math.Min(ep, ranksPerNode))
        {
            ExpertGroups = Math.Max(1, a.ExpertGroups),
            AllowUneven = p.Uneven.Value,
            MaxSlotsPerDevice = maxSlots,
            MaxReplicasPerExpert = maxReplicas,
        };
    }

    /// <summary>The pool's loads: the override, else the plan's file or synthetic seed. Rows are MoE layers with model layer ids.</summary>
    public static (ExpertLoads? Loads, string Description, ImmutableArray<Diagnostic> Diagnostics) LoadsOf(
        DeploymentPlan plan, PoolRole pool, ISourceResolver resolver, LoadOverride? loadOverride = null)
    {
        ArgumentNullException.ThrowIfNull(plan);
        ArgumentNullException.ThrowIfNull(resolver);
        var a = plan.Model.Entry.Architecture;
        switch (loadOverride)
        {
            case LoadFileOverride file:
                return ReadFile(plan, resolver, file.Path, null);
            case SyntheticLoadOverride synthetic:
                return Synthetic(plan, pool, synthetic.Seed, null);
        }

        return plan.Placement.Loads switch
        {
            FileLoadSource file => ReadFile(plan, resolver, resolver.Resolve(file.Span.File, file.Path), file.Span),
            SyntheticLoadSource synthetic => Synthetic(plan, pool, unchecked((ulong)synthetic.Seed), synthetic.Span),
            _ => throw new InvalidOperationException($"unknown load source {plan.Placement.Loads.GetType().Name}"),
        };
    }

    /// <summary>The pool's placement problem; problems with the shape are reported at the plan's placement block.</summary>
    public static (PoolPlacementProblem? Problem, ImmutableArray<Diagnostic> Diagnostics) ProblemOf(
        DeploymentPlan plan, PoolRole pool, ISourceResolver resolver, LoadOverride? loadOverride = null)
    {
        if (loadOverride is LoadFilesOverride files)
        {
            return RobustProblemOf(plan, pool, resolver, files);
        }

        var (loads, description, diagnostics) = LoadsOf(plan, pool, resolver, loadOverride);
        if (loads is null)
        {
            return (null, diagnostics);
        }

        var (problem, shapeDiagnostics) = PlacementProblem.Create(loads, ShapeOf(plan, pool));
        var all = diagnostics.AddRange(shapeDiagnostics.Select(d => d.Span is null ? d with { Span = plan.Placement.Span } : d));
        return problem is null ? (null, all) : (new PoolPlacementProblem(pool, problem, description), all);
    }

    private static (PoolPlacementProblem? Problem, ImmutableArray<Diagnostic> Diagnostics) RobustProblemOf(
        DeploymentPlan plan, PoolRole pool, ISourceResolver resolver, LoadFilesOverride files)
    {
        var diagnostics = ImmutableArray<Diagnostic>.Empty;
        var sets = new List<ExpertLoads>();
        foreach (var path in files.Paths)
        {
            var (loads, _, fileDiagnostics) = ReadFile(plan, resolver, path, null);
            diagnostics = diagnostics.AddRange(fileDiagnostics);
            if (loads is not null)
            {
                sets.Add(loads);
            }
        }

        if (sets.Count < files.Paths.Length || sets.Count == 0)
        {
            return (null, diagnostics);
        }

        var (problem, shapeDiagnostics) = PlacementProblem.CreateRobust(sets, ShapeOf(plan, pool), files.Objective);
        var all = diagnostics.AddRange(shapeDiagnostics.Select(d => d.Span is null ? d with { Span = plan.Placement.Span } : d));
        var objective = files.Objective == RobustObjective.Expected ? "expected" : "worst-case";
        var description = sets.Count == 1
            ? files.Paths[0]
            : $"mean of {sets.Count} files ({objective} busiest rank over them for moeplan): {string.Join(", ", files.Paths)}";
        return problem is null ? (null, all) : (new PoolPlacementProblem(pool, problem, description), all);
    }

    /// <summary>
    /// Places the pool's experts with the named algorithm (default: the plan's) and measures the placement against the
    /// loads it was made from.
    /// </summary>
    public static PoolPlacementResult Place(
        DeploymentPlan plan, PoolRole pool, ISourceResolver resolver, string? algorithm = null, LoadOverride? loadOverride = null)
    {
        var (problem, diagnostics) = ProblemOf(plan, pool, resolver, loadOverride);
        return problem is null ? new PoolPlacementResult(null, null, null, diagnostics) : Place(plan, problem, algorithm, diagnostics);
    }

    /// <summary>Places an already built problem (e.g. once per algorithm on the same loads).</summary>
    public static PoolPlacementResult Place(
        DeploymentPlan plan, PoolPlacementProblem problem, string? algorithm = null, ImmutableArray<Diagnostic> earlier = default)
    {
        ArgumentNullException.ThrowIfNull(plan);
        ArgumentNullException.ThrowIfNull(problem);
        var name = algorithm ?? plan.Placement.Algorithm.Value;

        // Algorithm diagnostics point at the plan's `algorithm` setting when the plan chose the algorithm.
        SourceSpan? span = algorithm is null ? plan.Placement.Algorithm.Span : null;
        var result = PlacementAlgorithms.Place(name, problem.Problem);
        var diagnostics = (earlier.IsDefault ? [] : earlier)
            .AddRange(result.Diagnostics.Select(d => d.Span is null && span is not null ? d with { Span = span } : d));
        if (result.Placement is null)
        {
            return new PoolPlacementResult(problem, null, null, diagnostics);
        }

        return new PoolPlacementResult(problem, result.Placement, PlacementMetrics.Compute(problem.Problem.Loads, result.Placement), diagnostics);
    }

    /// <summary>
    /// The placement metrics of a plan's pool as the plan specifies it (its algorithm, loads, slots and devices): what a cost
    /// model takes its expert imbalance from (<see cref="PlacementMetrics.Imbalance"/>: the MoE part of a forward pass runs
    /// that many times slower than with a perfect split). Null metrics come with the error diagnostics that say why.
    /// </summary>
    public static (PlacementMetrics? Metrics, ImmutableArray<Diagnostic> Diagnostics) MetricsOf(DeploymentPlan plan, PoolRole pool, ISourceResolver resolver)
    {
        var result = Place(plan, pool, resolver);
        return (result.Metrics, result.Diagnostics);
    }

    private static PoolPlan PoolOf(DeploymentPlan plan, PoolRole pool) => pool == PoolRole.Prefill ? plan.Prefill : plan.Decode;

    private static (ExpertLoads?, string, ImmutableArray<Diagnostic>) Synthetic(DeploymentPlan plan, PoolRole pool, ulong seed, SourceSpan? span)
    {
        var a = plan.Model.Entry.Architecture;
        var profile = pool == PoolRole.Prefill ? LoadProfile.Prefill : LoadProfile.Decode;
        var options = new SyntheticLoadOptions(a.MoeLayers, a.RoutedExperts, seed)
        {
            Profile = profile,
            TopK = Math.Clamp(a.TopK, 1, a.RoutedExperts),
            FirstLayerId = a.FirstDenseLayers,
        };
        var (loads, diagnostics) = SyntheticExpertLoads.Generate(options);
        var description = $"synthetic seed {seed.ToString(CultureInfo.InvariantCulture)}, {profile.ToString().ToLowerInvariant()} profile";
        return (loads, description, diagnostics.Select(d => d.Span is null && span is not null ? d with { Span = span } : d).ToImmutableArray());
    }

    internal static (ExpertLoads?, string, ImmutableArray<Diagnostic>) ReadFile(DeploymentPlan plan, ISourceResolver resolver, string path, SourceSpan? span)
    {
        if (!resolver.TryRead(path, out var text, out var error))
        {
            return (null, path, [DiagnosticCodes.ImportNotFound.Create(span, path, error)]);
        }

        var a = plan.Model.Entry.Architecture;
        var read = ExpertLoadReader.Read(text, path, expectedExperts: a.RoutedExperts);
        if (read.Loads is null)
        {
            return (null, path, read.Diagnostics);
        }

        var (loads, diagnostic) = ToModelLayers(read.Loads, plan.Model.Entry.Name, a.Layers, a.FirstDenseLayers, new SourceSpan(path, 0, 0, 1, 1));
        return (loads, path, diagnostic is null ? read.Diagnostics : read.Diagnostics.Add(diagnostic));
    }

    /// <summary>
    /// Maps the rows of a load file onto the model's MoE layers: one row per model layer (dense rows must be all zero
    /// and are dropped), rows for exactly the MoE layer ids, or one row per MoE layer from 0 (renumbered to follow the
    /// dense layers).
    /// </summary>
    internal static (ExpertLoads? Loads, Diagnostic? Diagnostic) ToModelLayers(ExpertLoads loads, string model, int layers, int denseLayers, SourceSpan file)
    {
        var moeLayers = layers - denseLayers;
        var rows = loads.LayerCount;
        var consecutive = loads.LayerIds.SequenceEqual(Enumerable.Range(0, rows));
        if (consecutive && rows == layers)
        {
            var dense = Enumerable.Range(0, denseLayers).Where(i => loads.LayerTotal(i) > 0).ToList();
            if (dense.Count > 0)
            {
                return (null, DiagnosticCodes.LoadOnDenseLayer.CreateWithHint(file,
                    $"{model}'s first {denseLayers} layer(s) are dense: give them all-zero rows, or give only the {moeLayers} MoE layers",
                    ExpertLoadReader.Ranges(dense), model));
            }

            return (Rows(loads, Enumerable.Range(denseLayers, moeLayers), Enumerable.Range(denseLayers, moeLayers)), null);
        }

        if (loads.LayerIds.SequenceEqual(Enumerable.Range(denseLayers, moeLayers)))
        {
            // Already the MoE layers by model id (a CSV that names layers 3..60).
            return (loads, null);
        }

        if (consecutive && rows == moeLayers)
        {
            return (Rows(loads, Enumerable.Range(0, rows), Enumerable.Range(denseLayers, moeLayers)), null);
        }

        var expected = denseLayers > 0
            ? $"{layers} ({denseLayers} dense, {moeLayers} MoE)"
            : layers.ToString(CultureInfo.InvariantCulture);
        var hint = denseLayers > 0
            ? $"give one row per model layer ({layers}, the {denseLayers} dense ones all zero) or one per MoE layer ({moeLayers})"
            : $"give one row per layer ({layers})";
        return (null, DiagnosticCodes.LoadShapeMismatch.CreateWithHint(file, hint, rows, "layers", expected));
    }

    private static ExpertLoads Rows(ExpertLoads loads, IEnumerable<int> rows, IEnumerable<int> ids)
    {
        var table = rows.Select(r => (IReadOnlyList<double>)loads.Layer(r).ToArray()).ToList();
        return ExpertLoads.Create(ids.ToList(), table);
    }
}
