using System.Collections.Immutable;
using System.Globalization;
using MoePlan.Core.Cost;
using MoePlan.Core.Plan;

namespace MoePlan.Core.Calibration;

/// <summary>
/// The interval of a prediction from a cross-validated calibration (docs/cost-model.md, "Stated uncertainty"):
/// <list type="bullet">
/// <item>the error level: the split-conformal quantile (coverage <see cref="Coverage"/>) of the cases' leave-one-out
/// |log errors|, those of the figure's regime when the regime has enough cases for that quantile, else of all cases;</item>
/// <item>the factor sets the cases cannot tell apart (<see cref="IndistinguishableFactors"/>): their predictions for the
/// plan, relative to the best fit's, spread where the plan is far from every case;</item>
/// <item>the interval is the wider of the two on each side, around the point estimate.</item>
/// </list>
/// </summary>
public sealed class PredictionInterval
{
    /// <summary>The share of left-out cases an interval is meant to hold.</summary>
    public const double Coverage = CostIntervals.Coverage;

    private readonly ImmutableArray<ProfileCase> _cases;
    private readonly EfficiencyFactors _reference;
    private readonly ImmutableArray<EfficiencyFactors> _alternatives;

    public PredictionInterval(string basis, ImmutableArray<ProfileCase> cases, EfficiencyFactors reference, ImmutableArray<EfficiencyFactors> alternatives)
    {
        Basis = basis;
        _cases = cases;
        _reference = reference;
        _alternatives = alternatives;
    }

    public string Basis { get; }

    /// <summary>The half-width in log space for figures of <paramref name="regime"/>; null when the cases are too few for
    /// the quantile (fewer than 4).</summary>
    /// <param name="pooled">The quantile of all cases whatever the regime's count.</param>
    public double? LogHalfWidth(CostRegime regime, bool pooled = false)
    {
        var own = _cases.Where(c => c.Regime == regime).ToList();
        return Quantile(own.Count >= MinimumCases && !pooled ? own : _cases);
    }

    /// <summary>Cases a split-conformal quantile at <see cref="Coverage"/> needs: the ceil((n+1) x coverage)-th smallest
    /// of n errors exists when n >= 4.</summary>
    public static int MinimumCases => (int)Math.Ceiling(Coverage / (1 - Coverage));

    private static double? Quantile(IReadOnlyCollection<ProfileCase> cases)
    {
        var errors = cases.Where(c => c.LeaveOneOutError is not null).Select(c => Math.Abs(Math.Log(1 + c.LeaveOneOutError!.Value))).Order().ToList();
        var k = (int)Math.Ceiling((errors.Count + 1) * Coverage - 1e-9);
        return errors.Count == 0 || k > errors.Count ? null : errors[k - 1];
    }

    /// <summary>The interval of every metric for <paramref name="plan"/> costed with <paramref name="options"/>;
    /// <paramref name="point"/> holds the point estimates (the plan's own factors).</summary>
    public ImmutableDictionary<string, FigureInterval> For(DeploymentPlan plan, CostOptions options, CostFigures point, CostEvaluator evaluator)
    {
        ArgumentNullException.ThrowIfNull(plan);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(evaluator);
        var reference = evaluator.Evaluate(plan, options with { Efficiency = _reference });
        var alternatives = _alternatives.Select(f => evaluator.Evaluate(plan, options with { Efficiency = f })).ToList();
        var result = ImmutableDictionary.CreateBuilder<string, FigureInterval>(StringComparer.Ordinal);
        foreach (var metric in CostMetric.All)
        {
            if (LogHalfWidth(metric.Regime) is not { } q)
            {
                continue;
            }

            var value = metric.Of(point);
            var at = metric.Of(reference);
            var (low, high) = (Math.Exp(-q), Math.Exp(q));
            foreach (var alternative in alternatives)
            {
                var ratio = metric.Of(alternative) / at;
                if (double.IsFinite(ratio) && ratio > 0)
                {
                    (low, high) = (Math.Min(low, ratio), Math.Max(high, ratio));
                }
            }

            if (double.IsFinite(value) && value > 0)
            {
                result[metric.Name] = new FigureInterval(value * low, value * high);
            }
        }

        return result.ToImmutable();
    }

    /// <summary>
    /// The intervals of <paramref name="plan"/>'s figures: from the profile it names, or, for a family whose factors were
    /// fitted here (Hopper), from the published cases they were fitted on; none for a family that borrows its factors.
    /// </summary>
    public static CostIntervals Of(DeploymentPlan plan, CostOptions options, CostFigures point, CostEvaluator? evaluator = null)
    {
        ArgumentNullException.ThrowIfNull(plan);
        var factors = plan.Factors;
        PredictionInterval? interval;
        if (plan.Calibration is { } use)
        {
            if (!use.Profile.CrossValidated)
            {
                return new CostIntervals($"profile {use.Path.Value}", ImmutableDictionary<string, FigureInterval>.Empty,
                    $"{use.Path.Value} was written without --cross-validate: no leave-one-out errors to state an interval from");
            }

            interval = use.Profile.Interval($"profile {use.Path.Value}");
        }
        else if (factors.BorrowedFrom is { } lender)
        {
            return new CostIntervals("none", ImmutableDictionary<string, FigureInterval>.Empty,
                $"no calibration case on {factors.Family}: its factors are borrowed from {lender}, so no measured error bounds its figures (calibrate them: docs/calibration.md)");
        }
        else
        {
            var published = PublishedProfiles.For(factors.Family);
            interval = published?.Interval(string.Create(CultureInfo.InvariantCulture, $"leave-one-out errors of the {published.Cases.Length} published {factors.Family} cases"));
        }

        if (interval is null)
        {
            return new CostIntervals("none", ImmutableDictionary<string, FigureInterval>.Empty, $"no cross-validated calibration of {factors.Family}");
        }

        var intervals = interval.For(plan, options, point, evaluator ?? new CostEvaluator());
        return new CostIntervals(interval.Basis, intervals, intervals.IsEmpty ? "too few calibration cases for an interval (at least 4)" : null);
    }
}
