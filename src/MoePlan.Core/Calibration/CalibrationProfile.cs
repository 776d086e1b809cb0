using System.Collections.Immutable;
using MoePlan.Core.Cost;

namespace MoePlan.Core.Calibration;

/// <summary>A case of a profile: the measurement, the fitted prediction and, when cross-validated, the leave-one-out error.</summary>
/// <param name="Hardware">The catalog name of the plan's hardware.</param>
/// <param name="BatchPerDevice">The decode batch per device of the measured plan (what "near a case" means for decode).</param>
/// <param name="TokensPerDevice">The prefill tokens per device and step of the measured plan.</param>
/// <param name="LeaveOneOutError">predicted / measured - 1 with this case left out of the fit; null when not cross-validated.</param>
public sealed record ProfileCase(
    string Name,
    string Plan,
    string Hardware,
    string Metric,
    CostRegime Regime,
    double Measured,
    double Predicted,
    double? LeaveOneOutError,
    double BatchPerDevice,
    double TokensPerDevice,
    string Source)
{
    public double Error => (Predicted / Measured) - 1;
}

/// <summary>
/// What <c>moeplan calibrate</c> writes and a plan's <c>calibration</c> statement reads (docs/calibration.md, "Profiles"):
/// the family's factors with the free ones fitted, their bounds, and the cases they were fitted on with their residuals.
/// </summary>
/// <param name="MeasurementFiles">The measurement files, as named on the command line.</param>
public sealed record CalibrationProfile(
    string Family,
    EfficiencyFactors Factors,
    ImmutableArray<FittedFactor> Fitted,
    ImmutableArray<ProfileCase> Cases,
    ImmutableArray<string> MeasurementFiles)
{
    public const string Schema = "moeplan/calibration-profile/v1";

    public bool CrossValidated => !Cases.IsEmpty && Cases.All(c => c.LeaveOneOutError is not null);

    public double MaxAbsError => Cases.IsEmpty ? 0 : Cases.Max(c => Math.Abs(c.Error));

    public double? MaxAbsLeaveOneOutError => CrossValidated ? Cases.Max(c => Math.Abs(c.LeaveOneOutError!.Value)) : null;

    /// <summary>Fits <paramref name="cases"/> and, when <paramref name="crossValidate"/>, runs the leave-one-out over them.</summary>
    public static CalibrationProfile Calibrate(IReadOnlyList<PreparedMeasurement> cases, IEnumerable<string> measurementFiles, bool crossValidate)
    {
        ArgumentNullException.ThrowIfNull(cases);
        var fit = FactorFit.Fit(cases);
        var loo = crossValidate ? LeaveOneOut.Run(cases, fit) : default;
        var profileCases = ImmutableArray.CreateBuilder<ProfileCase>(cases.Count);
        for (var i = 0; i < cases.Count; i++)
        {
            var c = cases[i];
            var report = new CostEvaluator().Evaluate(c.Plan, c.Options with { Efficiency = fit.Factors });
            profileCases.Add(new ProfileCase(c.Measurement.Name, c.Measurement.Plan, c.Plan.Hardware.Value.Name, c.Measurement.Metric.Name,
                c.Measurement.Metric.Regime, c.Measurement.Value, fit.Residuals[i].Predicted, loo.IsDefault ? null : loo[i].Error,
                report.Decode.BatchPerRank, report.Prefill.Step.TokensPerRank, c.Measurement.Source));
        }

        return new CalibrationProfile(fit.Family, fit.Factors, fit.Fitted, profileCases.MoveToImmutable(), [.. measurementFiles]);
    }
}
