using System.Collections.Immutable;
using MoePlan.Core.Calibration;
using MoePlan.Core.Cost;
using MoePlan.Tests.Support;

namespace MoePlan.Core.Tests.Cost;

/// <summary>
/// Every published serving figure the cost model is calibrated against, read from the product's measurement file
/// <see cref="File"/> (each with its source and the shipped plan that reproduces the setup), and what the model
/// predicts for it. The calibration tests and the table in docs/cost-model.md both come from this list; figures are
/// shown as published (per node), the file holds them per device with the published figure beside.
/// </summary>
public sealed record CalibrationCase(string Name, string Plan, string Metric, double Published, string Source, PreparedMeasurement Measurement)
{
    public const double Tolerance = 0.15;

    /// <summary>The published cases, in the product (repository-relative).</summary>
    public const string File = "plans/calibration/published.yaml";

    private static readonly Lazy<ImmutableArray<PreparedMeasurement>> Prepared = new(() =>
    {
        var resolver = MemorySourceResolver.FromRepository(File);
        var (measurements, diagnostics) = MeasurementReader.Read(File, resolver);
        var (cases, problems) = MeasurementSet.Prepare(measurements, resolver);
        var errors = diagnostics.AddRange(problems).Where(d => d.IsError).ToArray();
        return errors.Length == 0 ? cases : throw new InvalidOperationException($"{File}: {string.Join("; ", errors)}");
    });

    public static IReadOnlyList<CalibrationCase> All => [.. Measurements.Select(m => new CalibrationCase(m.Measurement.Name, m.Measurement.Plan,
        m.Measurement.Published?.Unit ?? m.Measurement.Metric.Name, m.Measurement.Published?.Value ?? m.Measurement.Value, m.Measurement.Source, m))];

    /// <summary>The cases as the fitter takes them, plans compiled and placed.</summary>
    public static ImmutableArray<PreparedMeasurement> Measurements => Prepared.Value;

    /// <summary>The prediction with the family's factors, in the published unit.</summary>
    public double Predicted() => Measurement.Predict(EfficiencyFactors.For(Measurement.Family)) * (Measurement.Measurement.Published?.Devices ?? 1);
}
