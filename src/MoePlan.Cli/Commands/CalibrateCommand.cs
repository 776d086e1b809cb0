using System.CommandLine;
using System.Text;
using MoePlan.Cli.Files;
using MoePlan.Cli.Options;
using MoePlan.Cli.Terminal;
using MoePlan.Core.Calibration;
using MoePlan.Core.Diagnostics;
using MoePlan.Core.Text;
using Spectre.Console;

namespace MoePlan.Cli.Commands;

/// <summary><c>moeplan calibrate MEASUREMENTS... -o PROFILE.yaml</c>: fit a hardware family's free efficiency factors to measurements (docs/calibration.md).</summary>
internal static class CalibrateCommand
{
    public static Command Create(TextWriter stdout, TextWriter stderr)
    {
        var files = new Argument<string[]>("measurements") { Description = "Measurement files (*.yaml, *.csv; each measurement states its value or names the sglang.bench_serving / vLLM serving-benchmark result file it is read from; docs/calibration.md).", Arity = ArgumentArity.OneOrMore };
        var output = new Option<string?>("--output", "-o") { Description = "Write the profile (YAML) here; a plan uses it with `calibration \"PROFILE.yaml\"`. Written whole or not at all." };
        var crossValidate = new Option<bool>("--cross-validate") { Description = "Also fit without each case in turn and report its leave-one-out error (stored in the profile)." };
        var format = CommonOptions.Format("text", "json");
        var command = new Command("calibrate", """
            Fit the free efficiency factors of the measured plans' hardware family (GEMM efficiency and half rows, HBM
            and scale-out efficiency, kernel gap, overlap efficiency, batch routing variation), each within stated bounds,
            minimising the largest relative error over the measurements; print the factors and every case's residual.

            Examples:
              moeplan calibrate plans/calibration/published.yaml
              moeplan calibrate my-cluster.yaml more.csv -o profiles/h100.yaml --cross-validate
              moeplan calibrate plans/calibration/published.yaml --cross-validate --format json
            """);
        command.Arguments.Add(files);
        command.Options.Add(output);
        command.Options.Add(crossValidate);
        command.Options.Add(format);
        command.SetAction(parse => Run(parse.GetValue(files)!, parse.GetValue(output), parse.GetValue(crossValidate), parse.GetValue(format)!, stdout, stderr));
        return command;
    }

    public static int Run(string[] files, string? output, bool crossValidate, string format, TextWriter stdout, TextWriter stderr)
    {
        foreach (var file in files)
        {
            InputPaths.RequireFile(file, "measurements ");
        }

        if (output is not null && Directory.Exists(output))
        {
            throw new CliUsageException($"cannot write the profile to '{output}': it is a folder");
        }

        var resolver = new FileSystemSourceResolver();
        var diagnostics = new List<Diagnostic>();
        var measurements = new List<Measurement>();
        foreach (var file in files)
        {
            var (read, problems) = MeasurementReader.Read(file, resolver);
            diagnostics.AddRange(problems);
            measurements.AddRange(read);
        }

        if (diagnostics.Any(d => d.IsError))
        {
            DiagnosticPrinter.WriteText(stderr, diagnostics);
            return ExitCodes.Diagnostics;
        }

        var (cases, caseProblems) = MeasurementSet.Prepare(measurements, resolver);
        diagnostics.AddRange(caseProblems);
        if (cases.IsEmpty && !diagnostics.Any(d => d.IsError))
        {
            diagnostics.Add(DiagnosticCodes.MeasurementsEmpty.Create(new SourceSpan(files[0], 0, 0, 1, 1)));
        }
        else if (crossValidate && cases.Length < 2 && !diagnostics.Any(d => d.IsError))
        {
            diagnostics.Add(DiagnosticCodes.MeasurementsTooFewToCrossValidate.Create(new SourceSpan(files[0], 0, 0, 1, 1), cases.Length));
        }

        if (diagnostics.Any(d => d.IsError))
        {
            DiagnosticPrinter.WriteText(stderr, diagnostics);
            return ExitCodes.Diagnostics;
        }

        var profile = CalibrationProfile.Calibrate(cases, files, crossValidate);
        if (output is not null)
        {
            WriteAtomically(output, CalibrationProfileWriter.Yaml(profile));
        }

        if (format == "json")
        {
            stdout.Write(CalibrationProfileWriter.Json(profile, output) + "\n");
        }
        else
        {
            DiagnosticPrinter.WriteText(stdout, diagnostics);
            WriteText(stdout, profile, output);
        }

        return ExitCodes.Ok;
    }

    private static void WriteText(TextWriter stdout, CalibrationProfile profile, string? output)
    {
        stdout.WriteLine($"{profile.Family}: {profile.Cases.Length} case(s), largest |error| {Percent(profile.MaxAbsError)}" +
                         (profile.MaxAbsLeaveOneOutError is { } loo ? $", largest leave-one-out |error| {Percent(loo)}" : ""));
        var factors = new Table().Title("fitted factors").AddColumns("factor", "value", "family's", "bounds", "identified");
        foreach (var f in profile.Fitted)
        {
            factors.AddRow(f.Factor.Name, NumberText.Compact(f.Value), NumberText.Compact(f.Prior),
                $"{NumberText.Compact(f.Factor.Lower)}-{NumberText.Compact(f.Factor.Upper)}", f.Identified ? "yes" : "no: kept");
        }

        TableWriter.Write(stdout, factors);
        var cases = new Table().Title("cases").AddColumns(profile.CrossValidated
            ? ["case", "metric", "measured", "predicted", "error", "leave-one-out error"]
            : ["case", "metric", "measured", "predicted", "error"]);
        foreach (var c in profile.Cases)
        {
            string[] row = [Markup.Escape(c.Name), c.Metric, NumberText.Compact(c.Measured), NumberText.Compact(c.Predicted), Percent(c.Error)];
            cases.AddRow(c.LeaveOneOutError is { } e ? [.. row, Percent(e)] : row);
        }

        TableWriter.Write(stdout, cases);
        stdout.WriteLine(output is null ? "no profile written (-o PROFILE.yaml writes one)" : $"profile written to {output}");
    }

    /// <summary>A signed percentage; an error that rounds to zero is "+0.0%", never "-0.0%".</summary>
    private static string Percent(double error)
    {
        var rounded = Math.Round(error, 3);
        return (rounded == 0 ? 0 : rounded).ToString("+0.0%;-0.0%", System.Globalization.CultureInfo.InvariantCulture);
    }

    /// <summary>A temporary sibling, then moved over the target: a failed or killed run never leaves half a profile.</summary>
    private static void WriteAtomically(string file, string text)
    {
        var full = Path.GetFullPath(file);
        var temp = Path.Combine(Path.GetDirectoryName(full) ?? ".", $".{Path.GetFileName(full)}.moeplan-calibrate-{Guid.NewGuid():N}");
        try
        {
            File.WriteAllBytes(temp, new UTF8Encoding(false).GetBytes(text));
            File.Move(temp, full, overwrite: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            try
            {
                File.Delete(temp);
            }
            catch (Exception cleanup) when (cleanup is IOException or UnauthorizedAccessException)
            {
                // Best effort: the temporary file is hidden and named as ours.
            }

            throw new CliUsageException($"cannot write '{file}': {e.Message}");
        }
    }
}
