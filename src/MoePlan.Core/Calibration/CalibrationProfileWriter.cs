using System.Globalization;
using System.Text;
using System.Text.Json;
using MoePlan.Core.Emit;

namespace MoePlan.Core.Calibration;

/// <summary>
/// A profile as YAML (the file plans name) and as JSON (<c>moeplan calibrate --format json</c>, schemas/calibrate.schema.json).
/// Factor values are written to round-trip exactly (a plan using the profile predicts what the fit predicted); errors and
/// predictions are rounded for reading.
/// </summary>
public static class CalibrationProfileWriter
{
    public static string Yaml(CalibrationProfile profile)
    {
        ArgumentNullException.ThrowIfNull(profile);
        var s = new StringBuilder();
        s.Append("# moeplan calibration profile: the efficiency factors of one hardware family fitted to measurements.\n");
        s.Append("# Written by `moeplan calibrate` (docs/calibration.md); a plan uses it with `calibration \"<this file>\"`.\n");
        s.Append(CultureInfo.InvariantCulture, $"schema: {CalibrationProfile.Schema}\n");
        s.Append(CultureInfo.InvariantCulture, $"family: {OutputEscaping.Yaml(profile.Family)}\n");
        s.Append("measurements:\n");
        foreach (var file in profile.MeasurementFiles)
        {
            s.Append(CultureInfo.InvariantCulture, $"  - {OutputEscaping.Yaml(file)}\n");
        }

        s.Append(CultureInfo.InvariantCulture, $"fit: {{ cases: {profile.Cases.Length}, max_abs_error: {Rounded(profile.MaxAbsError)}, cross_validated: {(profile.CrossValidated ? "true" : "false")}");
        if (profile.MaxAbsLeaveOneOutError is { } loo)
        {
            s.Append(CultureInfo.InvariantCulture, $", max_abs_loo_error: {Rounded(loo)}");
        }

        s.Append(" }\n");
        s.Append("# Fitted within [lower, upper]; `family` is the value the fit started from. A factor no case's prediction\n");
        s.Append("# depends on is not identified and keeps the family's value.\n");
        s.Append("factors:\n");
        foreach (var f in profile.Fitted)
        {
            s.Append(CultureInfo.InvariantCulture,
                $"  {f.Factor.Name}: {{ value: {Exact(f.Value)}, family: {Exact(f.Prior)}, lower: {Exact(f.Factor.Lower)}, upper: {Exact(f.Factor.Upper)}, identified: {(f.Identified ? "true" : "false")} }}\n");
        }

        s.Append("# Measured factors of the family, not fitted (for reference; a plan takes them from the family).\n");
        s.Append(CultureInfo.InvariantCulture,
            $"fixed: {{ attention_efficiency: {Exact(profile.Factors.AttentionEfficiency)}, scale_up_efficiency: {Exact(profile.Factors.ScaleUpEfficiency)}, all_to_all: {OutputEscaping.Yaml(profile.Factors.AllToAll.Source)} }}\n");
        if (!profile.Indistinguishable.IsEmpty)
        {
            s.Append("# Factor sets that predict every case as well as the cases' leave-one-out errors say the model predicts an unseen\n");
            s.Append("# one: what the cases cannot tell apart. Their spread widens the intervals far from the cases (docs/cost-model.md).\n");
            s.Append("indistinguishable:\n");
            foreach (var set in profile.Indistinguishable)
            {
                s.Append("  - { ").AppendJoin(", ", FreeFactor.All.Select(f => $"{f.Name}: {Exact(f.Get(set))}")).Append(" }\n");
            }
        }

        s.Append("cases:\n");
        foreach (var c in profile.Cases)
        {
            s.Append(CultureInfo.InvariantCulture, $"  - name: {OutputEscaping.Yaml(c.Name)}\n");
            s.Append(CultureInfo.InvariantCulture, $"    plan: {OutputEscaping.Yaml(c.Plan)}\n");
            s.Append(CultureInfo.InvariantCulture, $"    hardware: {OutputEscaping.Yaml(c.Hardware)}\n");
            s.Append(CultureInfo.InvariantCulture, $"    metric: {c.Metric}\n");
            s.Append(CultureInfo.InvariantCulture, $"    regime: {Regime(c.Regime)}\n");
            s.Append(CultureInfo.InvariantCulture, $"    measured: {Exact(c.Measured)}\n");
            s.Append(CultureInfo.InvariantCulture, $"    predicted: {Rounded(c.Predicted)}\n");
            s.Append(CultureInfo.InvariantCulture, $"    error: {Rounded(c.Error)}\n");
            if (c.LeaveOneOutError is { } e)
            {
                s.Append(CultureInfo.InvariantCulture, $"    loo_error: {Rounded(e)}\n");
            }

            s.Append(CultureInfo.InvariantCulture, $"    batch_per_device: {Rounded(c.BatchPerDevice)}\n");
            s.Append(CultureInfo.InvariantCulture, $"    tokens_per_device: {Rounded(c.TokensPerDevice)}\n");
            s.Append(CultureInfo.InvariantCulture, $"    source: {OutputEscaping.Yaml(c.Source)}\n");
        }

        return s.ToString();
    }

    /// <param name="profilePath">Where the profile was written; null when it was not.</param>
    public static string Json(CalibrationProfile profile, string? profilePath) => JsonOutput.Write(w =>
    {
        ArgumentNullException.ThrowIfNull(profile);
        w.WriteStartObject();
        w.WriteString("schema", "moeplan/calibrate/v1");
        w.WriteString("family", profile.Family);
        if (profilePath is null)
        {
            w.WriteNull("profile");
        }
        else
        {
            w.WriteString("profile", profilePath);
        }

        w.WriteStringArray("measurements", profile.MeasurementFiles);
        w.WriteNumberOrNull("max_abs_error", Math.Round(profile.MaxAbsError, 6));
        w.WriteBoolean("cross_validated", profile.CrossValidated);
        w.WriteNumberOrNull("max_abs_loo_error", profile.MaxAbsLeaveOneOutError is { } loo ? Math.Round(loo, 6) : null);
        w.WriteStartArray("factors");
        foreach (var f in profile.Fitted)
        {
            w.WriteStartObject();
            w.WriteString("name", f.Factor.Name);
            w.WriteNumber("value", f.Value);
            w.WriteNumber("family", f.Prior);
            w.WriteNumber("lower", f.Factor.Lower);
            w.WriteNumber("upper", f.Factor.Upper);
            w.WriteBoolean("identified", f.Identified);
            w.WriteString("bounds_reason", f.Factor.Why);
            w.WriteEndObject();
        }

        w.WriteEndArray();
        w.WriteStartArray("cases");
        foreach (var c in profile.Cases)
        {
            w.WriteStartObject();
            w.WriteString("name", c.Name);
            w.WriteString("plan", c.Plan);
            w.WriteString("hardware", c.Hardware);
            w.WriteString("metric", c.Metric);
            w.WriteString("regime", Regime(c.Regime));
            w.WriteNumber("measured", c.Measured);
            w.WriteNumberOrNull("predicted", Math.Round(c.Predicted, 4));
            w.WriteNumberOrNull("error", Math.Round(c.Error, 6));
            w.WriteNumberOrNull("loo_error", c.LeaveOneOutError is { } e ? Math.Round(e, 6) : null);
            w.WriteNumberOrNull("batch_per_device", Math.Round(c.BatchPerDevice, 4));
            w.WriteNumberOrNull("tokens_per_device", Math.Round(c.TokensPerDevice, 4));
            w.WriteString("source", c.Source);
            w.WriteEndObject();
        }

        w.WriteEndArray();
        w.WriteEndObject();
    });

    internal static string Regime(CostRegime regime) => regime == CostRegime.Prefill ? "prefill" : "decode";

    private static string Exact(double value) => value.ToString("R", CultureInfo.InvariantCulture);

    private static string Rounded(double value) => Math.Round(value, 6).ToString("0.######", CultureInfo.InvariantCulture);
}
