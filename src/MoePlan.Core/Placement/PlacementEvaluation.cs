using System.Collections.Immutable;

namespace MoePlan.Core.Placement;

/// <summary>Loads with what they came from (a file path, a seed) for people.</summary>
public sealed record NamedExpertLoads(string Name, ExpertLoads Loads);

/// <summary>A placement measured on one set of loads other than (or besides) the ones it was made from.</summary>
public sealed record EvaluatedLoads(string Name, PlacementMetrics Metrics);

/// <summary>
/// A placement measured on loads it was not made from: what it does when the traffic that follows differs from the
/// recording it was computed on. Per load set the <see cref="PlacementMetrics"/>; <see cref="Mean"/> averages each
/// figure over the sets (every set counts once, whatever its token count).
/// </summary>
public sealed record PlacementEvaluation(ImmutableArray<EvaluatedLoads> Loads, PlacementEvaluationMean Mean)
{
    public static PlacementEvaluation Evaluate(ExpertPlacement placement, IReadOnlyList<NamedExpertLoads> loads)
    {
        ArgumentNullException.ThrowIfNull(placement);
        ArgumentNullException.ThrowIfNull(loads);
        if (loads.Count == 0)
        {
            throw new ArgumentException("evaluation needs at least one set of loads", nameof(loads));
        }

        var measured = loads.Select(l => new EvaluatedLoads(l.Name, PlacementMetrics.Compute(l.Loads, placement))).ToImmutableArray();
        var mean = new PlacementEvaluationMean(
            measured.Average(m => m.Metrics.MeanLayerImbalance),
            measured.Average(m => m.Metrics.WorstLayerImbalance),
            measured.Average(m => m.Metrics.Imbalance),
            measured.Average(m => m.Metrics.CrossNodeShare));
        return new PlacementEvaluation(measured, mean);
    }
}

/// <summary>The figures of a <see cref="PlacementEvaluation"/> averaged over its load sets.</summary>
public sealed record PlacementEvaluationMean(double MeanLayerImbalance, double WorstLayerImbalance, double Imbalance, double CrossNodeShare);
