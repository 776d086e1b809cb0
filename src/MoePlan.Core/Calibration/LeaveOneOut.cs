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
/// errors say how far off a prediction for a deployment the fit has not seen is likely to be.
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
        for (var i = 0; i < cases.Count; i++)
        {
            var others = cases.Where((_, j) => j != i).ToArray();
            var fit = FactorFit.Fit(others);
            var c = cases[i];
            errors.Add(new LeaveOneOutError(c.Measurement.Name, c.Measurement.Metric.Name, c.Measurement.Metric.Regime, c.Measurement.Value,
                c.Predict(fit.Factors), all.Residuals[i].Error));
        }

        return errors.MoveToImmutable();
    }
}
