using System.Collections.Immutable;
using MoePlan.Core.Compilation;
using MoePlan.Core.Diagnostics;
using MoePlan.Core.Plan;
using MoePlan.Core.Text;

namespace MoePlan.Core.Placement;

/// <summary>What <c>moeplan place</c> asks for (paths as the resolver reads them).</summary>
/// <param name="Algorithm">An algorithm instead of the plan's; ignored when <paramref name="Compare"/>.</param>
/// <param name="Compare">Place with every algorithm on the same problem.</param>
/// <param name="Evaluate">Load files to measure each placement on (placed on one set of loads, run on others).</param>
public sealed record PlacementRequest(
    string PlanPath,
    PoolRole Pool,
    LoadOverride? Load = null,
    string? Algorithm = null,
    bool Compare = false,
    ImmutableArray<string> Evaluate = default);

/// <summary>One algorithm's placement, its metrics on the loads it was made from, and its evaluation on other loads.</summary>
public sealed record PlacementRunResult(string Algorithm, PoolPlacementResult Result, PlacementEvaluation? Evaluation);

/// <summary>What <see cref="PlacementRun.Run"/> produced.</summary>
/// <param name="Diagnostics">Compilation, load and evaluation-file diagnostics (each result carries its algorithm's own).</param>
/// <param name="Failure">Why there are no results (the plan did not compile, the loads did not read), or null.</param>
public sealed record PlacementRunOutcome(
    DeploymentPlan? Plan,
    PoolPlacementProblem? Problem,
    ImmutableArray<Diagnostic> Diagnostics,
    ImmutableArray<PlacementRunResult> Results,
    string? Failure)
{
    /// <summary>Every diagnostic, the earlier ones first.</summary>
    public IEnumerable<Diagnostic> AllDiagnostics => Diagnostics.Concat(Results.SelectMany(r => r.Result.Diagnostics));

    public bool HasErrors => AllDiagnostics.Any(d => d.IsError);
}

/// <summary>
/// The sequence behind <c>moeplan place</c>: compile the plan through verification, build the pool's problem with the
/// chosen loads, place with one algorithm (or every one), measure each placement on the loads it was made from and on
/// the <c>--evaluate</c> files. Core does no I/O: every file goes through the resolver.
/// </summary>
public static class PlacementRun
{
    public static PlacementRunOutcome Run(PlacementRequest request, ISourceResolver resolver)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(resolver);
        var compiled = PlanCompiler.Compile(request.PlanPath, resolver, throughVerification: true);
        if (compiled.Plan is not { } plan)
        {
            return Failed(null, compiled.Diagnostics, $"{request.PlanPath}: not compiled");
        }

        // An aggregated plan's one pool is placed like a decode pool (decode's loads), so decode names it too.
        if (plan.IsAggregated && request.Pool == PoolRole.Prefill)
        {
            return new(plan, null, compiled.Diagnostics, [], $"{request.PlanPath}: this plan serves aggregated (`serve`): it has no prefill pool; place its pool with --pool serve");
        }

        if (!plan.IsAggregated && request.Pool == PoolRole.Serve)
        {
            return new(plan, null, compiled.Diagnostics, [], $"{request.PlanPath}: this plan has prefill and decode pools, no serve pool; use --pool prefill or --pool decode");
        }

        var (problem, problemDiagnostics) = PlanPlacement.ProblemOf(plan, request.Pool, resolver, request.Load);
        var diagnostics = compiled.Diagnostics.AddRange(problemDiagnostics);
        if (problem is null)
        {
            return Failed(plan, diagnostics, $"{request.PlanPath}: no placement");
        }

        var evaluate = request.Evaluate.IsDefault ? [] : request.Evaluate;
        var evaluationLoads = new List<NamedExpertLoads>();
        foreach (var path in evaluate)
        {
            var (loads, description, loadDiagnostics) = PlanPlacement.LoadsOf(plan, request.Pool, resolver, new LoadFileOverride(path));
            diagnostics = diagnostics.AddRange(loadDiagnostics);
            if (loads is not null)
            {
                evaluationLoads.Add(new NamedExpertLoads(description, loads));
            }
        }

        if (evaluationLoads.Count < evaluate.Length)
        {
            return Failed(plan, diagnostics, $"{request.PlanPath}: evaluation loads not read");
        }

        var names = request.Compare ? PlacementAlgorithms.Names : [request.Algorithm ?? plan.Placement.Algorithm.Value];
        var results = ImmutableArray.CreateBuilder<PlacementRunResult>();
        foreach (var name in names)
        {
            var result = PlanPlacement.Place(plan, problem, request.Compare ? name : request.Algorithm);
            var evaluation = result.Placement is { } placement && evaluationLoads.Count > 0
                ? PlacementEvaluation.Evaluate(placement, evaluationLoads)
                : null;
            results.Add(new PlacementRunResult(result.Placement?.Algorithm ?? name, result, evaluation));
        }

        return new PlacementRunOutcome(plan, problem, diagnostics, results.ToImmutable(), null);
    }

    /// <summary>
    /// The files <c>place -o</c> writes for a placement: placement.json, vllm-ascend's expert map and, when every rank holds
    /// the same number of experts, SGLang's <c>--init-expert-location</c> (else a note saying why not).
    /// </summary>
    public static (IReadOnlyDictionary<string, string> Files, ImmutableArray<Diagnostic> Skipped) OutputFiles(
        DeploymentPlan plan, ExpertPlacement placement, PlacementMetrics metrics)
    {
        ArgumentNullException.ThrowIfNull(plan);
        var files = new SortedDictionary<string, string>(StringComparer.Ordinal)
        {
            [PlacementFile] = ExpertMapFormats.PlacementJson(placement, metrics),
            [VllmAscendFile] = ExpertMapFormats.VllmAscendExpertMap(placement),
        };
        var sglang = ExpertMapFormats.SglangExpertLocation(placement, plan.Model.Entry.Architecture.Layers);
        if (sglang.Text is not null)
        {
            files[SglangFile] = sglang.Text;
        }

        return (files, sglang.Diagnostics);
    }

    public const string PlacementFile = "placement.json";
    public const string VllmAscendFile = "vllm-ascend-expert-map.json";
    public const string SglangFile = "sglang-init-expert-location.json";

    private static PlacementRunOutcome Failed(DeploymentPlan? plan, ImmutableArray<Diagnostic> diagnostics, string why) =>
        new(plan, null, diagnostics, [], $"{why}: {diagnostics.Count(d => d.IsError)} error(s)");
}
