using System.Collections.Immutable;
using System.Globalization;
using System.Text;
using MoePlan.Core.Diagnostics;
using MoePlan.Core.Editing;
using MoePlan.Core.Text;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace MoePlan.Core.Calibration;

/// <summary>
/// Reads measurement files (docs/calibration.md, "Measurement files"): YAML, or CSV when the file name ends in
/// <c>.csv</c>. YAML:
/// <code>
/// measurements:
///   - name: SGLang decode, batch 256          # optional: defaults to "PLAN METRIC"
///     plan: sglang-h100-decode.moe            # relative to this file
///     metric: decode.output_tokens_per_s_per_device
///     value: 2785.25                          # per device
///     # or, instead of value: the serving benchmark's result file it is read from (BenchResultReader)
///     # result: { file: runs/sglang.jsonl, format: sglang-bench-serving, line: 2 }
///     source: LMSYS blog 2025-05-05
///     published: { value: 22282, devices: 8, unit: output tok/s per node }   # optional
///     perfect_balance: false                  # optional
///     set: [decode.max_batch=128]             # optional plan overrides
/// </code>
/// CSV: a header row naming the columns (name, plan, metric, value, result_file, result_format, result_line, source,
/// perfect_balance, published_value, published_devices, published_unit, set; the last separates overrides by <c>;</c>),
/// one measurement per row, RFC 4180 quoting, <c>#</c> lines are comments. Every problem is a located MP58xx diagnostic; nothing throws on bad input.
/// </summary>
public static class MeasurementReader
{
    /// <summary>Thousands of measurements are a few hundred kilobytes.</summary>
    public const long MaxBytes = 4L * 1024 * 1024;

    private static readonly string[] TopKeys = ["measurements"];
    private static readonly string[] EntryKeys = ["name", "plan", "metric", "value", "result", "source", "published", "perfect_balance", "set"];
    private static readonly string[] PublishedKeys = ["value", "devices", "unit"];
    private static readonly string[] ResultKeys = ["file", "format", "line"];
    private static readonly string[] CsvColumns =
        ["name", "plan", "metric", "value", "result_file", "result_format", "result_line", "source", "perfect_balance", "published_value", "published_devices", "published_unit", "set"];

    /// <summary>One key of an entry as written: its text (null when not a single value) and where.</summary>
    private sealed record Field(string Key, string? Text, SourceSpan Span, string Kind);

    private sealed record Entry(string Where, SourceSpan Span, List<Field> Fields);

    /// <summary>Reads <paramref name="path"/> through <paramref name="resolver"/> (plans resolve against it).</summary>
    public static (ImmutableArray<Measurement> Measurements, ImmutableArray<Diagnostic> Diagnostics) Read(string path, ISourceResolver resolver)
    {
        ArgumentNullException.ThrowIfNull(resolver);
        if (!resolver.TryRead(path, out var text, out var error))
        {
            return ([], [DiagnosticCodes.MeasurementsUnreadable.Create(new SourceSpan(path, 0, 0, 1, 1), error)]);
        }

        return Parse(path, text, resolver);
    }

    public static (ImmutableArray<Measurement> Measurements, ImmutableArray<Diagnostic> Diagnostics) Parse(string path, string text, ISourceResolver resolver)
    {
        ArgumentNullException.ThrowIfNull(path);
        ArgumentNullException.ThrowIfNull(text);
        var diagnostics = new List<Diagnostic>();
        var capped = new CappedDiagnostics(diagnostics);
        var entries = path.EndsWith(".csv", StringComparison.OrdinalIgnoreCase) ? CsvEntries(path, text, capped) : YamlEntries(path, text, capped);
        var measurements = ImmutableArray.CreateBuilder<Measurement>();
        foreach (var entry in entries)
        {
            if (Build(path, entry, resolver, capped) is { } measurement)
            {
                measurements.Add(measurement);
            }
        }

        capped.Complete(new SourceSpan(path, 0, 0, 1, 1));
        return diagnostics.Any(d => d.IsError) ? ([], [.. diagnostics]) : (measurements.ToImmutable(), [.. diagnostics]);
    }

    private static List<Entry> YamlEntries(string path, string text, ICollection<Diagnostic> diagnostics)
    {
        var entries = new List<Entry>();
        var stream = new YamlStream();
        try
        {
            stream.Load(new StringReader(text));
        }
        catch (YamlException e)
        {
            diagnostics.Add(DiagnosticCodes.MeasurementsSyntax.Create(YamlNodeText.Span(path, e.Start), e.Message));
            return entries;
        }

        var file = new SourceSpan(path, 0, 0, 1, 1);
        if (stream.Documents.Count != 1)
        {
            diagnostics.Add(DiagnosticCodes.MeasurementsShape.Create(file, "a measurement file", "one YAML document", $"{stream.Documents.Count} documents"));
            return entries;
        }

        var root = stream.Documents[0].RootNode;
        if (root is not YamlMappingNode top)
        {
            diagnostics.Add(DiagnosticCodes.MeasurementsShape.Create(YamlNodeText.Span(path, root.Start), "a measurement file", "a mapping with `measurements`", YamlNodeText.Kind(root)));
            return entries;
        }

        YamlNode? list = null;
        foreach (var (key, value) in top.Children)
        {
            var name = (key as YamlScalarNode)?.Value ?? "";
            if (name == "measurements")
            {
                list = value;
            }
            else
            {
                diagnostics.Add(DiagnosticCodes.MeasurementsUnknownKey.Create(YamlNodeText.Span(path, key.Start), TextExcerpt.Of(name), "a measurement file", string.Join(", ", TopKeys)));
            }
        }

        if (list is null)
        {
            diagnostics.Add(DiagnosticCodes.MeasurementsMissingKey.Create(YamlNodeText.Span(path, top.Start), "measurements", "the measurement file"));
            return entries;
        }

        if (list is not YamlSequenceNode sequence)
        {
            diagnostics.Add(DiagnosticCodes.MeasurementsShape.Create(YamlNodeText.Span(path, list.Start), "`measurements`", "a list of measurements", YamlNodeText.Kind(list)));
            return entries;
        }

        for (var i = 0; i < sequence.Children.Count; i++)
        {
            var node = sequence.Children[i];
            var where = $"measurement {(i + 1).ToString(CultureInfo.InvariantCulture)}";
            if (node is not YamlMappingNode map)
            {
                diagnostics.Add(DiagnosticCodes.MeasurementsShape.Create(YamlNodeText.Span(path, node.Start), where, "a mapping (plan, metric, value, source, ...)", YamlNodeText.Kind(node)));
                continue;
            }

            var fields = new List<Field>();
            foreach (var (keyNode, value) in map.Children)
            {
                var key = (keyNode as YamlScalarNode)?.Value ?? "";
                switch (key)
                {
                    case "published" when value is YamlMappingNode published:
                        foreach (var (subKey, subValue) in published.Children)
                        {
                            var sub = (subKey as YamlScalarNode)?.Value ?? "";
                            if (PublishedKeys.Contains(sub, StringComparer.Ordinal))
                            {
                                fields.Add(YamlField("published." + sub, subValue, path));
                            }
                            else
                            {
                                diagnostics.Add(DiagnosticCodes.MeasurementsUnknownKey.Create(YamlNodeText.Span(path, subKey.Start), TextExcerpt.Of(sub), where + " `published`", string.Join(", ", PublishedKeys)));
                            }
                        }

                        break;
                    case "published":
                        diagnostics.Add(DiagnosticCodes.MeasurementsShape.Create(YamlNodeText.Span(path, value.Start), where + " `published`", "a mapping (value, devices, unit)", YamlNodeText.Kind(value)));
                        break;
                    case "result" when value is YamlMappingNode result:
                        foreach (var (subKey, subValue) in result.Children)
                        {
                            var sub = (subKey as YamlScalarNode)?.Value ?? "";
                            if (ResultKeys.Contains(sub, StringComparer.Ordinal))
                            {
                                fields.Add(YamlField("result." + sub, subValue, path));
                            }
                            else
                            {
                                diagnostics.Add(DiagnosticCodes.MeasurementsUnknownKey.Create(YamlNodeText.Span(path, subKey.Start), TextExcerpt.Of(sub), where + " `result`", string.Join(", ", ResultKeys)));
                            }
                        }

                        if (!result.Children.Keys.Any(k => (k as YamlScalarNode)?.Value == "file"))
                        {
                            diagnostics.Add(DiagnosticCodes.MeasurementsMissingKey.Create(YamlNodeText.Span(path, result.Start), "file", where + " `result`"));
                        }

                        fields.Add(new Field("result", "", YamlNodeText.Span(path, keyNode.Start), "a mapping"));
                        break;
                    case "result":
                        diagnostics.Add(DiagnosticCodes.MeasurementsShape.Create(YamlNodeText.Span(path, value.Start), where + " `result`", "a mapping (file, format, line)", YamlNodeText.Kind(value)));
                        break;
                    case "set" when value is YamlSequenceNode overrides:
                        fields.AddRange(overrides.Children.Select(o => YamlField("set", o, path)));
                        break;
                    case var known when EntryKeys.Contains(known, StringComparer.Ordinal):
                        fields.Add(YamlField(key, value, path));
                        break;
                    default:
                        diagnostics.Add(DiagnosticCodes.MeasurementsUnknownKey.Create(YamlNodeText.Span(path, keyNode.Start), TextExcerpt.Of(key), where, string.Join(", ", EntryKeys)));
                        break;
                }
            }

            entries.Add(new Entry(where, YamlNodeText.Span(path, map.Start), fields));
        }

        return entries;
    }

    private static Field YamlField(string key, YamlNode value, string path) =>
        new(key, value is YamlScalarNode { Value: { } text } ? text : null, YamlNodeText.Span(path, value.Start), YamlNodeText.Kind(value));

    private static List<Entry> CsvEntries(string path, string text, ICollection<Diagnostic> diagnostics)
    {
        var entries = new List<Entry>();
        var rows = CsvRows(path, text, diagnostics);
        if (rows is null)
        {
            return entries;
        }

        if (rows.Count == 0)
        {
            diagnostics.Add(DiagnosticCodes.MeasurementsMissingKey.Create(new SourceSpan(path, 0, 0, 1, 1), "header row", "the CSV file"));
            return entries;
        }

        var header = rows[0];
        var columns = new List<string>();
        foreach (var (cell, span) in header.Cells)
        {
            var column = cell.Trim();
            if (!CsvColumns.Contains(column, StringComparer.Ordinal))
            {
                diagnostics.Add(DiagnosticCodes.MeasurementsUnknownKey.Create(span, TextExcerpt.Of(column), "the CSV header", string.Join(", ", CsvColumns)));
            }
            else if (columns.Contains(column, StringComparer.Ordinal))
            {
                diagnostics.Add(DiagnosticCodes.MeasurementsShape.Create(span, $"column `{column}`", "named once", "named again"));
            }

            columns.Add(column);
        }

        if (diagnostics.Any(d => d.IsError))
        {
            return entries;
        }

        foreach (var row in rows.Skip(1))
        {
            if (row.Cells.Count != columns.Count)
            {
                diagnostics.Add(DiagnosticCodes.MeasurementCsvFieldCount.Create(row.Span, row.Cells.Count, columns.Count));
                continue;
            }

            var fields = new List<Field>();
            for (var c = 0; c < columns.Count; c++)
            {
                var (cell, span) = row.Cells[c];
                if (cell.Trim().Length == 0)
                {
                    continue; // An empty cell is an absent optional value.
                }

                switch (columns[c])
                {
                    case "set":
                        foreach (var part in cell.Split(';'))
                        {
                            if (part.Trim().Length > 0)
                            {
                                fields.Add(new Field("set", part.Trim(), span, "a single value"));
                            }
                        }

                        break;
                    case var published when published.StartsWith("published_", StringComparison.Ordinal):
                        fields.Add(new Field("published." + published["published_".Length..], cell.Trim(), span, "a single value"));
                        break;
                    case var result when result.StartsWith("result_", StringComparison.Ordinal):
                        if (result == "result_file")
                        {
                            fields.Add(new Field("result", "", span, "a single value"));
                        }

                        fields.Add(new Field("result." + result["result_".Length..], cell.Trim(), span, "a single value"));
                        break;
                    default:
                        fields.Add(new Field(columns[c], cell.Trim(), span, "a single value"));
                        break;
                }
            }

            entries.Add(new Entry($"row {row.Span.Line.ToString(CultureInfo.InvariantCulture)}", row.Span, fields));
        }

        return entries;
    }

    private sealed record CsvRow(SourceSpan Span, List<(string Text, SourceSpan Span)> Cells);

    /// <summary>RFC 4180 rows: quoted fields may hold commas, doubled quotes and line breaks. Blank and <c>#</c> lines are skipped.</summary>
    private static List<CsvRow>? CsvRows(string path, string text, ICollection<Diagnostic> diagnostics)
    {
        var rows = new List<CsvRow>();
        var i = 0;
        var line = 1;
        var column = 1;
        while (i < text.Length)
        {
            // Skip blank lines and comment lines.
            if (text[i] is '\r' or '\n')
            {
                Advance(text, ref i, ref line, ref column);
                continue;
            }

            if (text[i] == '#' && column == 1)
            {
                while (i < text.Length && text[i] != '\n')
                {
                    Advance(text, ref i, ref line, ref column);
                }

                continue;
            }

            var rowSpan = new SourceSpan(path, i, 0, line, column);
            var cells = new List<(string, SourceSpan)>();
            while (true)
            {
                var cellSpan = new SourceSpan(path, i, 0, line, column);
                var cell = new StringBuilder();
                if (i < text.Length && text[i] == '"')
                {
                    Advance(text, ref i, ref line, ref column);
                    while (true)
                    {
                        if (i >= text.Length)
                        {
                            diagnostics.Add(DiagnosticCodes.MeasurementsSyntax.Create(cellSpan, "a quoted field is not closed"));
                            return null;
                        }

                        if (text[i] == '"')
                        {
                            if (i + 1 < text.Length && text[i + 1] == '"')
                            {
                                cell.Append('"');
                                Advance(text, ref i, ref line, ref column);
                                Advance(text, ref i, ref line, ref column);
                                continue;
                            }

                            Advance(text, ref i, ref line, ref column);
                            break;
                        }

                        cell.Append(text[i]);
                        Advance(text, ref i, ref line, ref column);
                    }

                    if (i < text.Length && text[i] is not (',' or '\r' or '\n'))
                    {
                        diagnostics.Add(DiagnosticCodes.MeasurementsSyntax.Create(new SourceSpan(path, i, 0, line, column), "a quoted field must end at a comma or the end of the line"));
                        return null;
                    }
                }
                else
                {
                    while (i < text.Length && text[i] is not (',' or '\r' or '\n'))
                    {
                        if (text[i] == '"')
                        {
                            diagnostics.Add(DiagnosticCodes.MeasurementsSyntax.Create(new SourceSpan(path, i, 0, line, column), "a quote inside an unquoted field (quote the whole field and double the quote)"));
                            return null;
                        }

                        cell.Append(text[i]);
                        Advance(text, ref i, ref line, ref column);
                    }
                }

                cells.Add((cell.ToString(), cellSpan));
                if (i < text.Length && text[i] == ',')
                {
                    Advance(text, ref i, ref line, ref column);
                    continue;
                }

                break;
            }

            rows.Add(new CsvRow(rowSpan, cells));
        }

        return rows;
    }

    private static void Advance(string text, ref int i, ref int line, ref int column)
    {
        if (text[i] == '\n')
        {
            line++;
            column = 1;
        }
        else
        {
            column++;
        }

        i++;
    }

    private static Measurement? Build(string path, Entry entry, ISourceResolver resolver, ICollection<Diagnostic> diagnostics)
    {
        var errors = diagnostics.Count(d => d.IsError);
        var seen = new HashSet<string>(StringComparer.Ordinal);
        string? Scalar(Field f)
        {
            if (f.Key != "set" && !seen.Add(f.Key))
            {
                diagnostics.Add(DiagnosticCodes.MeasurementsShape.Create(f.Span, $"{entry.Where} `{f.Key}`", "given once", "given again"));
                return null;
            }

            if (f.Text is null)
            {
                diagnostics.Add(DiagnosticCodes.MeasurementsShape.Create(f.Span, $"{entry.Where} `{f.Key}`", "a single value", f.Kind));
            }

            return f.Text;
        }

        string? name = null, plan = null, source = null, unit = null;
        CostMetric? metric = null;
        double? value = null, publishedValue = null;
        int? devices = null;
        var perfectBalance = false;
        var planSpan = entry.Span;
        var valueSpan = entry.Span;
        var metricSpan = entry.Span;
        var resultSpan = entry.Span;
        var lineSpan = entry.Span;
        string? resultFile = null;
        var resultFileSpan = entry.Span;
        BenchResultFormat? resultFormat = null;
        int? resultLine = null;
        var overrides = ImmutableArray.CreateBuilder<PlanOverride>();
        foreach (var f in entry.Fields)
        {
            if (Scalar(f) is not { } text)
            {
                continue;
            }

            switch (f.Key)
            {
                case "name":
                    name = text.Trim();
                    break;
                case "plan":
                    if (text.Trim().Length == 0)
                    {
                        diagnostics.Add(DiagnosticCodes.MeasurementInvalidValue.Create(f.Span, "plan", "", "a plan file"));
                    }
                    else
                    {
                        plan = resolver.Resolve(path, text.Trim());
                        planSpan = f.Span;
                    }

                    break;
                case "metric":
                    metricSpan = f.Span;
                    metric = CostMetric.Find(text.Trim());
                    if (metric is null)
                    {
                        diagnostics.Add(DiagnosticCodes.MeasurementUnknownMetric.Create(f.Span, TextExcerpt.Of(text), Suggestions.DidYouMean(text.Trim(), CostMetric.Names),
                            string.Join(", ", CostMetric.Names)));
                    }

                    break;
                case "value":
                    value = Positive(f, text, diagnostics);
                    valueSpan = f.Span;
                    break;
                case "source":
                    source = text.Trim();
                    if (source.Length == 0)
                    {
                        diagnostics.Add(DiagnosticCodes.MeasurementInvalidValue.Create(f.Span, "source", "", "a source: every figure says where it comes from"));
                    }

                    break;
                case "perfect_balance":
                    switch (text.Trim())
                    {
                        case "true":
                            perfectBalance = true;
                            break;
                        case "false":
                            break;
                        default:
                            diagnostics.Add(DiagnosticCodes.MeasurementInvalidValue.Create(f.Span, "perfect_balance", TextExcerpt.Of(text), "true or false"));
                            break;
                    }

                    break;
                case "published.value":
                    publishedValue = Positive(f, text, diagnostics);
                    break;
                case "published.devices":
                    if (text.Trim().Length is >= 1 and <= 6 && text.Trim().All(char.IsAsciiDigit) && int.Parse(text.Trim(), CultureInfo.InvariantCulture) is >= 1 and var d)
                    {
                        devices = d;
                    }
                    else
                    {
                        diagnostics.Add(DiagnosticCodes.MeasurementInvalidValue.Create(f.Span, "devices", TextExcerpt.Of(text), "a whole number of devices from 1 to 999999"));
                    }

                    break;
                case "published.unit":
                    unit = text.Trim();
                    break;
                case "result":
                    resultSpan = f.Span;
                    if (resultLine is null)
                    {
                        lineSpan = f.Span; // Where a missing `line` is asked for.
                    }

                    break;
                case "result.file":
                    if (text.Trim().Length == 0)
                    {
                        diagnostics.Add(DiagnosticCodes.MeasurementInvalidValue.Create(f.Span, "file", "", "a result file"));
                    }
                    else
                    {
                        resultFile = resolver.Resolve(path, text.Trim());
                        resultFileSpan = f.Span;
                    }

                    break;
                case "result.format":
                    resultFormat = BenchResultFormats.Find(text.Trim());
                    if (resultFormat is null)
                    {
                        diagnostics.Add(DiagnosticCodes.MeasurementInvalidValue.Create(f.Span, "format", TextExcerpt.Of(text), string.Join(" or ", BenchResultFormats.Names)));
                    }

                    break;
                case "result.line":
                    if (text.Trim().Length is >= 1 and <= 9 && text.Trim().All(char.IsAsciiDigit) && int.Parse(text.Trim(), CultureInfo.InvariantCulture) is >= 1 and var l)
                    {
                        resultLine = l;
                        lineSpan = f.Span;
                    }
                    else
                    {
                        diagnostics.Add(DiagnosticCodes.MeasurementInvalidValue.Create(f.Span, "line", TextExcerpt.Of(text), "a line number from 1 to 999999999"));
                    }

                    break;
                case "set":
                    var (parsed, problems) = PlanOverrides.Parse([text]);
                    if (problems.Length > 0)
                    {
                        diagnostics.Add(DiagnosticCodes.MeasurementInvalidOverride.Create(f.Span, problems[0].Message));
                    }
                    else
                    {
                        overrides.AddRange(parsed);
                    }

                    break;
            }
        }

        var fromResult = seen.Contains("result");
        foreach (var (key, present) in new[] { ("plan", seen.Contains("plan")), ("metric", seen.Contains("metric")), ("value` or `result", seen.Contains("value") || fromResult), ("source", seen.Contains("source")) })
        {
            if (!present)
            {
                diagnostics.Add(DiagnosticCodes.MeasurementsMissingKey.Create(entry.Span, key, entry.Where));
            }
        }

        if (!fromResult && (seen.Contains("result.format") || seen.Contains("result.line")))
        {
            diagnostics.Add(DiagnosticCodes.MeasurementsMissingKey.Create(entry.Span, "result_file", entry.Where));
        }

        // A figure read from a result file is stated once: the file is the value, and the tool's figure is the published one.
        foreach (var other in new[] { "value", "published.value", "published.devices", "published.unit" })
        {
            if (fromResult && seen.Contains(other))
            {
                diagnostics.Add(DiagnosticCodes.MeasurementValueAndResult.Create(resultSpan, other.Replace('.', ' ')));
                break;
            }
        }

        PublishedFigure? published = null;
        var publishedKeys = new[] { "published.value", "published.devices", "published.unit" };
        if (publishedKeys.Any(seen.Contains))
        {
            foreach (var key in publishedKeys.Where(k => !seen.Contains(k)))
            {
                diagnostics.Add(DiagnosticCodes.MeasurementsMissingKey.Create(entry.Span, key.Replace('.', ' '), entry.Where));
            }

            if (publishedValue is { } pv && devices is { } n && unit is not null)
            {
                published = new PublishedFigure(pv, n, unit);
                if (value is { } v && Math.Abs((v * n / pv) - 1) > 1e-3)
                {
                    diagnostics.Add(DiagnosticCodes.MeasurementPublishedMismatch.Create(valueSpan, v.ToString("R", CultureInfo.InvariantCulture),
                        pv.ToString("R", CultureInfo.InvariantCulture), n));
                }
            }
        }

        if (diagnostics.Count(d => d.IsError) > errors || plan is null || metric is null || source is null)
        {
            return null;
        }

        BenchResult? benchResult = null;
        if (fromResult)
        {
            if (resultFile is null)
            {
                return null;
            }

            benchResult = BenchResultReader.Read(new BenchResultReference(resultFile, resultFileSpan, resultFormat, resultLine, lineSpan), metric, metricSpan, resolver, diagnostics);
            if (benchResult is null)
            {
                return null;
            }

            // A per-device figure needs the devices of the plan's pool: MeasurementSet.Prepare divides once the plan is compiled.
            value = benchResult.PerDevice ? double.NaN : benchResult.Figure;
        }

        if (value is null)
        {
            return null;
        }

        return new Measurement(string.IsNullOrEmpty(name) ? $"{plan} {metric.Name}" : name, plan, metric, value.Value, source, perfectBalance,
            overrides.ToImmutable(), published, entry.Span)
        { PlanSpan = planSpan, Result = benchResult };
    }

    private static double? Positive(Field f, string text, ICollection<Diagnostic> diagnostics)
    {
        var key = f.Key.Replace("published.", "", StringComparison.Ordinal);
        if (double.TryParse(text.Trim(), NumberStyles.Float, CultureInfo.InvariantCulture, out var v) && double.IsFinite(v) && v > 0)
        {
            return v;
        }

        diagnostics.Add(DiagnosticCodes.MeasurementInvalidValue.Create(f.Span, key, TextExcerpt.Of(text), "a positive number (plain digits, '.' for decimals, no thousands separators)"));
        return null;
    }
}
