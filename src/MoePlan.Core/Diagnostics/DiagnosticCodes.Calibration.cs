namespace MoePlan.Core.Diagnostics;

/// <summary>MP5800..MP5849: measurement files, calibration profiles and result files (<c>moeplan calibrate</c>, docs/calibration.md).</summary>
public static partial class DiagnosticCodes
{
    /// <summary>{0} why the file cannot be read.</summary>
    public static readonly DiagnosticDescriptor MeasurementsUnreadable =
        new("MP5800", DiagnosticSeverity.Error, "Measurement file cannot be read", "cannot read the measurements: {0}");

    /// <summary>{0} the parser's message.</summary>
    public static readonly DiagnosticDescriptor MeasurementsSyntax =
        new("MP5801", DiagnosticSeverity.Error, "Measurement file is not valid YAML or CSV", "measurement file syntax error: {0}");

    /// <summary>{0} where, {1} what was expected, {2} what was found.</summary>
    public static readonly DiagnosticDescriptor MeasurementsShape =
        new("MP5802", DiagnosticSeverity.Error, "Unexpected measurement file structure", "{0} must be {1}, not {2}");

    /// <summary>{0} the key, {1} where, {2} the keys allowed there.</summary>
    public static readonly DiagnosticDescriptor MeasurementsUnknownKey =
        new("MP5803", DiagnosticSeverity.Error, "Unknown measurement key", "unknown key `{0}` in {1} (allowed: {2})");

    /// <summary>{0} the key, {1} where.</summary>
    public static readonly DiagnosticDescriptor MeasurementsMissingKey =
        new("MP5804", DiagnosticSeverity.Error, "Missing measurement key", "{1} has no `{0}`");

    /// <summary>{0} the metric as written, {1} a suggestion, {2} the metrics known.</summary>
    public static readonly DiagnosticDescriptor MeasurementUnknownMetric =
        new("MP5805", DiagnosticSeverity.Error, "Unknown metric", "unknown metric `{0}`{1} (known: {2})");

    /// <summary>{0} the key, {1} the value as written, {2} what it must be.</summary>
    public static readonly DiagnosticDescriptor MeasurementInvalidValue =
        new("MP5806", DiagnosticSeverity.Error, "Invalid measurement value", "`{0}` \"{1}\" is not {2}");

    /// <summary>{0} the plan, {1} the number of errors; the plan's own diagnostics follow.</summary>
    public static readonly DiagnosticDescriptor MeasurementPlanFailed =
        new("MP5807", DiagnosticSeverity.Error, "Measured plan does not compile", "the measured plan `{0}` cannot be costed ({1} error(s) follow)");

    /// <summary>{0} this measurement's hardware family, {1} the family of the first measurement, {2} where that is.</summary>
    public static readonly DiagnosticDescriptor MeasurementFamilyMismatch =
        new("MP5808", DiagnosticSeverity.Error, "Measurements of several hardware families",
            "this plan runs on {0} hardware but the first measurement's on {1} ({2}): a profile calibrates one family, so calibrate each family from its own measurements");

    /// <summary>{0} the value, {1} the published figure, {2} the devices it is published for.</summary>
    public static readonly DiagnosticDescriptor MeasurementPublishedMismatch =
        new("MP5809", DiagnosticSeverity.Error, "Per-device value disagrees with the published figure",
            "`value` {0} is not the published figure {1} over {2} device(s) (value = published / devices, within 0.1%)");

    public static readonly DiagnosticDescriptor MeasurementsEmpty =
        new("MP5810", DiagnosticSeverity.Error, "No measurements", "the measurement files hold no measurement");

    /// <summary>{0} the name, {1} where it was first used.</summary>
    public static readonly DiagnosticDescriptor MeasurementDuplicateName =
        new("MP5811", DiagnosticSeverity.Error, "Duplicate measurement name", "a measurement named \"{0}\" is already at {1}: names identify cases in residual and leave-one-out tables");

    /// <summary>{0} fields in the row, {1} columns in the header.</summary>
    public static readonly DiagnosticDescriptor MeasurementCsvFieldCount =
        new("MP5812", DiagnosticSeverity.Error, "CSV row has the wrong number of fields", "this row has {0} field(s) but the header names {1} column(s)");

    /// <summary>{0} the measurements there are.</summary>
    public static readonly DiagnosticDescriptor MeasurementsTooFewToCrossValidate =
        new("MP5813", DiagnosticSeverity.Error, "Too few measurements to cross-validate", "leave-one-out needs at least 2 measurements, found {0}");

    /// <summary>{0} the override's problem.</summary>
    public static readonly DiagnosticDescriptor MeasurementInvalidOverride =
        new("MP5814", DiagnosticSeverity.Error, "Invalid plan override in a measurement", "`set`: {0}");

    /// <summary>{0} the parser's message.</summary>
    public static readonly DiagnosticDescriptor ProfileSyntax =
        new("MP5820", DiagnosticSeverity.Error, "Calibration profile is not valid YAML", "calibration profile YAML error: {0}");

    /// <summary>{0} where, {1} what was expected, {2} what was found.</summary>
    public static readonly DiagnosticDescriptor ProfileShape =
        new("MP5821", DiagnosticSeverity.Error, "Unexpected calibration profile structure", "{0} must be {1}, not {2}");

    /// <summary>{0} the key, {1} where, {2} the keys allowed there.</summary>
    public static readonly DiagnosticDescriptor ProfileUnknownKey =
        new("MP5822", DiagnosticSeverity.Error, "Unknown calibration profile key", "unknown key `{0}` in {1} (allowed: {2})");

    /// <summary>{0} the key, {1} where.</summary>
    public static readonly DiagnosticDescriptor ProfileMissingKey =
        new("MP5823", DiagnosticSeverity.Error, "Missing calibration profile key", "{1} has no `{0}`");

    /// <summary>{0} the key, {1} the value as written, {2} what it must be.</summary>
    public static readonly DiagnosticDescriptor ProfileInvalidValue =
        new("MP5824", DiagnosticSeverity.Error, "Invalid calibration profile value", "`{0}` \"{1}\" is not {2}");

    /// <summary>{0} the schema as written, {1} the schema this moeplan reads.</summary>
    public static readonly DiagnosticDescriptor ProfileSchema =
        new("MP5825", DiagnosticSeverity.Error, "Not a calibration profile this moeplan reads", "`schema` \"{0}\" is not `{1}`: write the profile again with `moeplan calibrate -o`");

    /// <summary>{0} the result file as resolved, {1} why.</summary>
    public static readonly DiagnosticDescriptor BenchResultUnreadable =
        new("MP5830", DiagnosticSeverity.Error, "Benchmark result file cannot be read", "cannot read the result file `{0}`: {1}");

    /// <summary>{0} what is wrong (System.Text.Json's message, or that the file holds no run).</summary>
    public static readonly DiagnosticDescriptor BenchResultSyntax =
        new("MP5831", DiagnosticSeverity.Error, "Benchmark result file is not JSON lines", "result file is not JSON lines (one JSON object per run): {0}");

    /// <summary>{0} the line asked for, {1} the file, {2} the lines runs start on.</summary>
    public static readonly DiagnosticDescriptor BenchResultNoRunAtLine =
        new("MP5832", DiagnosticSeverity.Error, "No benchmark run on that line", "no run starts on line {0} of `{1}` (runs start on line(s) {2})");

    /// <summary>{0} the file, {1} the runs it holds, {2} the lines they start on.</summary>
    public static readonly DiagnosticDescriptor BenchResultLineRequired =
        new("MP5833", DiagnosticSeverity.Error, "Result file holds several runs", "`{0}` holds {1} runs: say which with `line` (runs start on line(s) {2})");

    /// <summary>{0} why the tool cannot be told from the content.</summary>
    public static readonly DiagnosticDescriptor BenchResultFormatUnknown =
        new("MP5834", DiagnosticSeverity.Error, "Cannot tell which benchmark wrote the result",
            "cannot tell which tool wrote this run ({0}): say `format: sglang-bench-serving` or `format: vllm-bench-serve`");

    /// <summary>{0} the format, {1} the key needed, {2} the metric, {3} the related keys the run has (or nothing).</summary>
    public static readonly DiagnosticDescriptor BenchResultKeyMissing =
        new("MP5835", DiagnosticSeverity.Error, "Benchmark run lacks the figure the metric needs", "this {0} run has no `{1}`, which `{2}` is read from{3}");

    /// <summary>{0} the key, {1} its value as written.</summary>
    public static readonly DiagnosticDescriptor BenchResultValueInvalid =
        new("MP5836", DiagnosticSeverity.Error, "Benchmark figure is not a positive number", "`{0}` is {1}, not a positive number");

    /// <summary>{0} the value of <c>completed</c> as written.</summary>
    public static readonly DiagnosticDescriptor BenchResultNothingCompleted =
        new("MP5837", DiagnosticSeverity.Error, "Benchmark run completed no request",
            "this run completed {0} requests: its throughputs and latencies measure nothing (did the server answer?)");

    /// <summary>{0} the other key.</summary>
    public static readonly DiagnosticDescriptor MeasurementValueAndResult =
        new("MP5838", DiagnosticSeverity.Error, "Measurement gives both a value and a result file",
            "`{0}` and `result` both given: a measurement states its figure or names the result file the figure is read from, not both");

    /// <summary>{0} the metric, {1} the metrics a result file gives.</summary>
    public static readonly DiagnosticDescriptor BenchResultMetricNotImported =
        new("MP5839", DiagnosticSeverity.Error, "Metric not in serving-benchmark results",
            "`{0}` is not a figure the serving benchmarks print (a `result` gives: {1}): state it with `value`");
}

/// <summary>MP2040..MP2049: the plan's <c>calibration</c> statement.</summary>
public static partial class DiagnosticCodes
{
    /// <summary>{0} the resolved path, {1} why.</summary>
    public static readonly DiagnosticDescriptor CalibrationProfileNotFound =
        new("MP2040", DiagnosticSeverity.Error, "Calibration profile not found", "cannot read the calibration profile `{0}`: {1}");

    /// <summary>{0} the resolved path, {1} its errors (reported located in the profile).</summary>
    public static readonly DiagnosticDescriptor CalibrationProfileInvalid =
        new("MP2041", DiagnosticSeverity.Error, "Calibration profile has errors", "the calibration profile `{0}` has {1} error(s), each reported at its place in the profile");

    /// <summary>{0} the profile's family, {1} the hardware, {2} its family.</summary>
    public static readonly DiagnosticDescriptor CalibrationFamilyMismatch =
        new("MP2042", DiagnosticSeverity.Error, "Calibration profile of another hardware family",
            "the profile calibrates {0} hardware but `{1}` is {2}: calibrate {2} from measurements of {2} deployments, or remove the `calibration` statement");
}
