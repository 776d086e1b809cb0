using System.Collections.Immutable;
using System.Globalization;
using MoePlan.Core.Cost;
using MoePlan.Core.Plan;

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

    /// <summary>Factor sets the cases cannot tell apart from <see cref="Factors"/> (<see cref="IndistinguishableFactors"/>):
    /// found with the cross-validation, empty without it.</summary>
    public ImmutableArray<EfficiencyFactors> Indistinguishable { get; init; } = [];

    /// <summary>The prediction interval the profile's cases state (<see cref="PredictionInterval"/>); null when not cross-validated.</summary>
    public PredictionInterval? Interval(string basis) =>
        CrossValidated ? new PredictionInterval(basis, Cases, Factors, Indistinguishable) : null;

    /// <summary>
    /// The profile's factors as a plan uses them, their provenance naming the profile as the plan wrote it: "calibrated
    /// by PROFILE on N cases", the errors, and the factors the cases did not identify (kept from the family's).
    /// </summary>
    public EfficiencyFactors FactorsAsNamed(string profile)
    {
        var kept = Fitted.Where(f => !f.Identified).Select(f => f.Factor.Name).ToList();
        var errors = MaxAbsLeaveOneOutError is { } loo
            ? $"largest error {Percent(MaxAbsError)}, leave-one-out {Percent(loo)}"
            : $"largest error {Percent(MaxAbsError)}, not cross-validated";
        var family = EfficiencyFactors.For(Family);
        return Factors with
        {
            BorrowedFrom = null,
            Provenance = $"calibrated by {profile} on {Cases.Length} cases ({errors})" +
                (kept.Count == 0 ? "" : $"; not identified by them, kept from {Family}'s factors: {string.Join(", ", kept)}") +
                (family.BorrowedFrom is { } lender && kept.Count > 0 ? $" (borrowed from {lender})" : ""),
        };
    }

    private static string Percent(double e) => e.ToString("0.0%", CultureInfo.InvariantCulture);

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

        var profile = new CalibrationProfile(fit.Family, fit.Factors, fit.Fitted, profileCases.MoveToImmutable(), [.. measurementFiles]);
        // The cases tell factor sets apart down to the error they predict unseen cases with: the pooled interval level.
        return profile.Interval("")?.LogHalfWidth(CostRegime.Prefill, pooled: true) is { } level
            ? profile with { Indistinguishable = IndistinguishableFactors.Explore(cases, fit, Math.Exp(level) - 1) }
            : profile;
    }
}

/// <summary>A plan's <c>calibration "profile.yaml"</c>: the path as written (with its span), the file it resolved to, and what it holds.</summary>
public sealed record CalibrationUse(Sourced<string> Path, string ResolvedPath, CalibrationProfile Profile)
{
    /// <summary>The factors the cost model uses for the plan.</summary>
    public EfficiencyFactors Factors { get; } = Profile.FactorsAsNamed(Path.Value);
}
