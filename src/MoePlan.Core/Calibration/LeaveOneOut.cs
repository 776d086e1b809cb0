using System.Collections.Immutable;

namespace MoePlan.Core.Calibration;

/// <summary>One case predicted by factors fitted without it.</summary>
/// <param name="Error">predicted / measured - 1, with the case left out of the fit.</param>
/// <param name="FittedError">The same with the case in the fit (the residual of the fit on all cases).</param>
public sealed record LeaveOneOutError(string Name, string Metric, CostRegime Regime, double Measured, double Predicted, double FittedError)
{
    public double Error => (Predicted / Measured) - 1;
}

/// <summary>
/// Cross-validation of <see cref="FactorFit"/>: for each case, fit the factors on the other cases and predict it. Its
/// errors say how far off a prediction for a deployment the fit has not seen is likely to be. Cases of one measured
/// deployment and phase (the same plan, overrides and regime: two figures of one run, or one run and its "perfect
/// balance" variant) leave together: with one of them in the fit, the other is not a deployment the fit has not seen.
/// </summary>
public static class LeaveOneOut
{
    /// <param name="all">The fit on every case, for the in-fit residuals (fitted again when null).</param>
    public static ImmutableArray<LeaveOneOutError> Run(IReadOnlyList<PreparedMeasurement> cases, FitResult? all = null)
    {
        ArgumentNullException.ThrowIfNull(cases);
        if (cases.Count < 2)
        {
            throw new ArgumentException("leave-one-out needs at least 2 cases", nameof(cases));
        }

        all ??= FactorFit.Fit(cases);
        var errors = ImmutableArray.CreateBuilder<LeaveOneOutError>(cases.Count);
        var fits = new Dictionary<string, FitResult>(StringComparer.Ordinal);
        for (var i = 0; i < cases.Count; i++)
        {
            var group = Deployment(cases[i]);
            if (!fits.TryGetValue(group, out var fit))
            {
                var others = cases.Where(c => Deployment(c) != group).ToArray();
                if (others.Length == 0)
                {
                    throw new ArgumentException("leave-one-out needs cases of at least 2 deployments", nameof(cases));
                }

                fit = FactorFit.Fit(others);
                fits[group] = fit;
            }

            var c = cases[i];
            errors.Add(new LeaveOneOutError(c.Measurement.Name, c.Measurement.Metric.Name, c.Measurement.Metric.Regime, c.Measurement.Value,
                c.Predict(fit.Factors), all.Residuals[i].Error));
        }

        return errors.MoveToImmutable();
    }

    /// <summary>What leaves the fit together: the measured deployment (plan and overrides) and phase of a case.</summary>
    public static string Deployment(PreparedMeasurement c)
    {
        ArgumentNullException.ThrowIfNull(c);
        return string.Join("\n", [c.Measurement.Plan, c.Measurement.Metric.Regime.ToString(), .. c.Measurement.Overrides.Select(o => o.Original)]);
    }
}
