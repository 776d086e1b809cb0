using System.Collections.Immutable;
using MoePlan.Core.Diagnostics;
using MoePlan.Core.Placement;
using MoePlan.Core.Plan;
using MoePlan.Core.Text;

namespace MoePlan.Core.Emit;

/// <summary>
/// The bundle's own adapter from a plan to a placement problem per pool (expert loads + shape). A shared plan-to-problem
/// function is being added to the placement library; when it lands, this class is what it replaces.
/// </summary>
public static class BundlePlacementInput
{
    /// <summary>The loads of the plan: its load file read through <paramref name="sources"/>, or seeded synthetic loads per pool.</summary>
    public static (ExpertLoads? Loads, ImmutableArray<Diagnostic> Diagnostics) Loads(DeploymentPlan plan, PoolPlan pool, string planPath, ISourceResolver sources)
    {
        ArgumentNullException.ThrowIfNull(plan);
        ArgumentNullException.ThrowIfNull(pool);
        ArgumentNullException.ThrowIfNull(sources);
        var a = plan.Model.Entry.Architecture;
        switch (plan.Placement.Loads)
        {
            case FileLoadSource file:
                var resolved = sources.Resolve(planPath, file.Path);
                if (!sources.TryRead(resolved, out var text, out var error))
                {
                    return (null, [DiagnosticCodes.BundleLoadFileUnreadable.Create(file.Span, resolved, error)]);
                }

                var read = ExpertLoadReader.Read(text, resolved, ExpertLoadFormat.Auto, expectedExperts: a.RoutedExperts);
                if (read.Loads is null)
                {
                    return (null, read.Diagnostics);
                }

                // SGLang recordings hold every layer; dense layers have no expert tokens.
                var loads = read.Loads.WithoutEmptyLayers();
                return loads is null
                    ? (null, [.. read.Diagnostics, DiagnosticCodes.LoadFileEmpty.Create(file.Span)])
                    : (loads, read.Diagnostics);
            case SyntheticLoadSource synthetic:
                return SyntheticExpertLoads.Generate(new SyntheticLoadOptions(a.MoeLayers, a.RoutedExperts, unchecked((ulong)synthetic.Seed))
                {
                    Profile = pool.Role == PoolRole.Prefill ? LoadProfile.Prefill : LoadProfile.Decode,
                    TopK = a.TopK,
                    FirstLayerId = a.FirstDenseLayers,
                });
            default:
                return (null, []);
        }
    }

    /// <summary>The deployment side of one pool: slots = routed + redundant experts over the pool's EP ranks.</summary>
    public static PlacementShape Shape(DeploymentPlan plan, PoolPlan pool)
    {
        ArgumentNullException.ThrowIfNull(plan);
        ArgumentNullException.ThrowIfNull(pool);
        var a = plan.Model.Entry.Architecture;
        var placement = plan.Placement;
        var ep = pool.Parallel.ExpertParallel.Value;
        var ranksPerNode = plan.Cluster.DevicesPerNode.Value * plan.Hardware.Value.DiesPerPackage;
        var devicesPerNode = ep > ranksPerNode && ep % ranksPerNode == 0 ? ranksPerNode : ep;
        var slots = a.RoutedExperts + placement.RedundantExperts.Value;
        var basePerRank = (a.RoutedExperts + ep - 1) / ep;
        return new PlacementShape(slots, ep, devicesPerNode)
        {
            ExpertGroups = a.ExpertGroups >= 1 && a.RoutedExperts % a.ExpertGroups == 0 ? a.ExpertGroups : 1,
            AllowUneven = placement.Uneven.Value,
            MaxSlotsPerDevice = placement.Uneven.Value && placement.MaxRedundantPerDevice is { } perDevice ? basePerRank + perDevice.Value : null,
            MaxReplicasPerExpert = placement.MaxRedundantPerExpert is { } perExpert ? Math.Min(ep, 1 + perExpert.Value) : null,
        };
    }

    /// <summary>Places one pool's experts with the plan's algorithm.</summary>
    public static PlacementResult Place(DeploymentPlan plan, PoolPlan pool, string planPath, ISourceResolver sources)
    {
        var (loads, loadDiagnostics) = Loads(plan, pool, planPath, sources);
        if (loads is null)
        {
            return new PlacementResult(null, loadDiagnostics);
        }

        var (problem, problemDiagnostics) = PlacementProblem.Create(loads, Shape(plan, pool));
        if (problem is null)
        {
            return new PlacementResult(null, [.. loadDiagnostics, .. problemDiagnostics]);
        }

        var result = PlacementAlgorithms.Place(plan.Placement.Algorithm.Value, problem);
        return result with { Diagnostics = [.. loadDiagnostics, .. result.Diagnostics] };
    }
}
