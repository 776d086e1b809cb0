using System.Collections.Immutable;
using System.Globalization;
using System.Text;
using System.Text.Json;
using MoePlan.Core.Diagnostics;
using MoePlan.Core.Text;

namespace MoePlan.Core.Placement;

/// <summary>The file formats <see cref="ExpertLoadReader"/> understands.</summary>
public enum ExpertLoadFormat
{
    /// <summary>Decide from the first non-blank character: '{' SGLang, '[' JSON table, anything else CSV.</summary>
    Auto,

    /// <summary>moeplan CSV: a <c>layer,expert,load</c> header, then one row per (layer, expert).</summary>
    Csv,

    /// <summary>moeplan JSON: <c>[[load, ...], ...]</c>, layers x experts; row i is layer i.</summary>
    Json,

    /// <summary>SGLang expert-distribution file: <c>{"logical_count": [[...], ...]}</c>; row i is model layer i.</summary>
    Sglang,
}

/// <summary>What the reader found: loads when there were no errors, and every diagnostic either way.</summary>
public sealed record ExpertLoadReadResult(ExpertLoads? Loads, ExpertLoadFormat Format, ImmutableArray<Diagnostic> Diagnostics)
{
    public bool Succeeded => Loads is not null;
}

/// <summary>
/// Reads per-layer expert loads from text. Never throws on bad input: problems come back as diagnostics
/// with file, line and column. Does no I/O: the caller passes the text and the path to show.
/// </summary>
public static class ExpertLoadReader
{
    /// <summary>Reading stops after this many errors.</summary>
    public const int MaxErrors = 20;

    /// <param name="expectedLayers">When known (from the model), the number of rows the file must have.</param>
    /// <param name="expectedExperts">When known (from the model), the number of routed experts per layer.</param>
    public static ExpertLoadReadResult Read(
        string text,
        string displayPath,
        ExpertLoadFormat format = ExpertLoadFormat.Auto,
        int? expectedLayers = null,
        int? expectedExperts = null)
    {
        ArgumentNullException.ThrowIfNull(text);
        ArgumentNullException.ThrowIfNull(displayPath);
        var locator = new SourceLocator(displayPath, text);
        var sink = new DiagnosticSink();
        var first = FirstContentIndex(text);
        if (first < 0)
        {
            sink.Add(DiagnosticCodes.LoadFileEmpty.Create(locator.Span(0, 0)));
            return new ExpertLoadReadResult(null, format, sink.ToImmutable());
        }

        if (format == ExpertLoadFormat.Auto)
        {
            format = text[first] switch
            {
                '{' => ExpertLoadFormat.Sglang,
                '[' => ExpertLoadFormat.Json,
                _ => ExpertLoadFormat.Csv,
            };
        }

        var rows = format == ExpertLoadFormat.Csv
            ? ReadCsv(text, locator, sink, expectedLayers, expectedExperts)
            : ReadJson(text, locator, sink, format == ExpertLoadFormat.Sglang);

        if (rows is null || sink.HasErrors)
        {
            return new ExpertLoadReadResult(null, format, sink.ToImmutable());
        }

        var (layerIds, table) = rows.Value;
        CheckExpectations(table, layerIds, locator, sink, expectedLayers, expectedExperts);
        if (sink.HasErrors)
        {
            return new ExpertLoadReadResult(null, format, sink.ToImmutable());
        }

        if (table.All(row => row.All(v => v == 0)))
        {
            sink.Add(DiagnosticCodes.LoadAllZero.Create(null));
        }

        return new ExpertLoadReadResult(ExpertLoads.Create(layerIds, table), format, sink.ToImmutable());
    }

    private static void CheckExpectations(
        List<double[]> table, List<int> layerIds, SourceLocator locator, DiagnosticSink sink, int? expectedLayers, int? expectedExperts)
    {
        var whole = locator.Span(0, 0);
        if (expectedExperts is { } experts && table[0].Length != experts)
        {
            sink.Add(DiagnosticCodes.LoadShapeMismatch.Create(whole, table[0].Length, "experts per layer", experts));
        }

        if (expectedLayers is { } layers)
        {
            if (table.Count < layers && layerIds.SequenceEqual(Enumerable.Range(0, table.Count)))
            {
                sink.Add(DiagnosticCodes.LoadMissingLayers.Create(whole, Ranges(Enumerable.Range(table.Count, layers - table.Count))));
            }
            else if (table.Count != layers)
            {
                sink.Add(DiagnosticCodes.LoadShapeMismatch.Create(whole, table.Count, "layers", layers));
            }
        }
    }

    private static int FirstContentIndex(string text)
    {
        for (var i = 0; i < text.Length; i++)
        {
            if (!char.IsWhiteSpace(text[i]) && text[i] != '\uFEFF')
            {
                return i;
            }
        }

        return -1;
    }

    // ---------------------------------------------------------------- CSV

    private readonly record struct CsvField(string Text, int Start);

    private static (List<int>, List<double[]>)? ReadCsv(
        string text, SourceLocator locator, DiagnosticSink sink, int? expectedLayers, int? expectedExperts)
    {
        const int defaultIndexLimit = 65535;
        var layerLimit = expectedLayers is { } l ? l - 1 : defaultIndexLimit;
        var expertLimit = expectedExperts is { } e ? e - 1 : defaultIndexLimit;
        var entries = new Dictionary<(int Layer, int Expert), (double Load, int Line)>();
        double total = 0;
        var firstRowOfLayer = new SortedDictionary<int, int>();
        var headerSeen = false;
        var lineNumber = 0;
        var position = 0;
        while (position <= text.Length && !sink.Full)
        {
            var end = text.IndexOf('\n', position);
            if (end < 0)
            {
                end = text.Length;
            }

            lineNumber++;
            var lineStart = position;
            var content = text.AsSpan(position, end - position).TrimEnd('\r');
            position = end + 1;
            var trimmed = content.Trim().TrimStart('\uFEFF');
            if (trimmed.IsEmpty || trimmed[0] == '#')
            {
                if (end == text.Length)
                {
                    break;
                }

                continue;
            }

            var fields = SplitFields(content, lineStart);
            if (!headerSeen)
            {
                headerSeen = true;
                var names = fields.Select(f => f.Text.TrimStart('\uFEFF').ToLowerInvariant()).ToArray();
                if (!names.SequenceEqual(["layer", "expert", "load"]))
                {
                    sink.Add(DiagnosticCodes.LoadCsvHeader.CreateWithHint(
                        locator.Span(lineStart, content.Length), "the first line must name the columns: layer,expert,load", TextExcerpt.Of(content.ToString())));
                    return null;
                }

                continue;
            }

            if (fields.Count != 3)
            {
                sink.Add(DiagnosticCodes.LoadCsvFieldCount.Create(locator.Span(lineStart, content.Length), fields.Count));
                continue;
            }

            var layer = ParseIndex(fields[0], "layer", layerLimit, locator, sink);
            var expert = ParseIndex(fields[1], "expert", expertLimit, locator, sink);
            var load = ParseLoad(fields[2].Text, locator.Span(fields[2].Start, fields[2].Text.Length), sink);
            if (layer is null || expert is null || load is null)
            {
                continue;
            }

            if (!AddToTotal(ref total, load.Value, locator.Span(fields[2].Start, fields[2].Text.Length), sink))
            {
                continue;
            }

            if (entries.TryGetValue((layer.Value, expert.Value), out var previous))
            {
                sink.Add(DiagnosticCodes.LoadDuplicateEntry.Create(locator.Span(lineStart, content.Length), layer.Value, expert.Value, previous.Line));
                continue;
            }

            entries[(layer.Value, expert.Value)] = (load.Value, lineNumber);
            firstRowOfLayer.TryAdd(layer.Value, lineStart);
        }

        if (sink.HasErrors)
        {
            return null;
        }

        if (entries.Count == 0)
        {
            sink.Add(DiagnosticCodes.LoadFileEmpty.CreateWithHint(locator.Span(0, 0), "after the header, give one 'layer,expert,load' row per expert and layer"));
            return null;
        }

        var layerIds = firstRowOfLayer.Keys.ToList();
        var missingLayers = Enumerable.Range(layerIds[0], layerIds[^1] - layerIds[0] + 1).Except(layerIds).ToList();
        if (missingLayers.Count > 0)
        {
            sink.Add(DiagnosticCodes.LoadMissingLayers.Create(locator.Span(0, 0), Ranges(missingLayers)));
        }

        var expertCount = expectedExperts ?? entries.Keys.Max(k => k.Expert) + 1;
        var table = new List<double[]>();
        foreach (var layer in layerIds)
        {
            var row = new double[expertCount];
            var missing = new List<int>();
            for (var expert = 0; expert < expertCount; expert++)
            {
                if (entries.TryGetValue((layer, expert), out var entry))
                {
                    row[expert] = entry.Load;
                }
                else
                {
                    missing.Add(expert);
                }
            }

            if (missing.Count > 0)
            {
                sink.Add(DiagnosticCodes.LoadMissingExperts.Create(locator.Span(firstRowOfLayer[layer], 0), layer, Ranges(missing)));
            }

            table.Add(row);
        }

        return sink.HasErrors ? null : (layerIds, table);
    }

    private static List<CsvField> SplitFields(ReadOnlySpan<char> line, int lineStart)
    {
        var fields = new List<CsvField>();
        var start = 0;
        for (var i = 0; i <= line.Length; i++)
        {
            if (i == line.Length || line[i] == ',')
            {
                var raw = line[start..i];
                var lead = raw.Length - raw.TrimStart().Length;
                fields.Add(new CsvField(raw.Trim().ToString(), lineStart + start + lead));
                start = i + 1;
            }
        }

        return fields;
    }

    private static int? ParseIndex(CsvField field, string what, int limit, SourceLocator locator, DiagnosticSink sink)
    {
        if (int.TryParse(field.Text, NumberStyles.None, CultureInfo.InvariantCulture, out var value) && value <= limit)
        {
            return value;
        }

        sink.Add(DiagnosticCodes.LoadBadIndex.Create(locator.Span(field.Start, field.Text.Length), what, TextExcerpt.Of(field.Text), limit));
        return null;
    }

    /// <summary>
    /// Adds a load to the file's running total; false, with MP5119 at the value, once the total is no longer a finite
    /// double (every value below 1.8e308, yet two of 1e308 overflow every sum the placement and its metrics take).
    /// </summary>
    private static bool AddToTotal(ref double total, double value, SourceSpan span, DiagnosticSink sink)
    {
        if (double.IsInfinity(total))
        {
            return false;
        }

        total += value;
        if (double.IsFinite(total))
        {
            return true;
        }

        sink.Add(DiagnosticCodes.LoadsTooLarge.Create(span));
        return false;
    }

    private static double? ParseLoad(string text, SourceSpan span, DiagnosticSink sink)
    {
        if (!double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var value) || !double.IsFinite(value))
        {
            sink.Add(DiagnosticCodes.LoadNotNumeric.Create(span, TextExcerpt.Of(text)));
            return null;
        }

        if (value < 0)
        {
            sink.Add(DiagnosticCodes.LoadNegative.Create(span, TextExcerpt.Of(text)));
            return null;
        }

        return value;
    }

    // ---------------------------------------------------------------- JSON and SGLang

    private static (List<int>, List<double[]>)? ReadJson(string text, SourceLocator locator, DiagnosticSink sink, bool sglang)
    {
        var bomOffset = text.Length > 0 && text[0] == '\uFEFF' ? 1 : 0;
        var bytes = Encoding.UTF8.GetBytes(text.Substring(bomOffset));
        var bomBytes = bomOffset == 1 ? 3 : 0;
        var reader = new Utf8JsonReader(bytes, new JsonReaderOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true });
        SourceSpan At(in Utf8JsonReader r) => locator.SpanOfBytes(r.TokenStartIndex + bomBytes, Math.Max(1, r.ValueSpan.Length));
        try
        {
            reader.Read();
            List<double[]>? table = null;
            if (sglang)
            {
                if (reader.TokenType != JsonTokenType.StartObject)
                {
                    sink.Add(DiagnosticCodes.LoadWrongShape.Create(At(reader), "expected an SGLang expert-distribution object {\"logical_count\": [[...], ...]}"));
                    return null;
                }

                var objectStart = At(reader);
                while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
                {
                    var isCounts = reader.ValueTextEquals("logical_count");
                    reader.Read();
                    if (isCounts && table is null)
                    {
                        table = ReadTable(ref reader, locator, bomBytes, sink);
                    }
                    else
                    {
                        reader.Skip();
                    }
                }

                if (table is null && !sink.HasErrors)
                {
                    sink.Add(DiagnosticCodes.LoadWrongShape.Create(objectStart, "the object has no \"logical_count\" property (SGLang expert-distribution format)"));
                }
            }
            else
            {
                table = ReadTable(ref reader, locator, bomBytes, sink);
            }

            // The reader throws on anything after the root value.
            while (reader.Read())
            {
            }

            return table is null || sink.HasErrors ? null : (Enumerable.Range(0, table.Count).ToList(), table);
        }
        catch (JsonException ex)
        {
            var message = ex.Message;
            var cut = message.IndexOf(" LineNumber:", StringComparison.Ordinal);
            if (cut >= 0)
            {
                message = message[..cut];
            }

            var span = ex.LineNumber is { } line && ex.BytePositionInLine is { } column
                ? locator.SpanOfLineByte(line, column + (line == 0 ? bomOffset : 0))
                : locator.Span(0, 0);
            sink.Add(DiagnosticCodes.LoadJsonSyntax.Create(span, message.TrimEnd('.', ' ')));
            return null;
        }
    }

    private static List<double[]>? ReadTable(ref Utf8JsonReader reader, SourceLocator locator, int bomBytes, DiagnosticSink sink)
    {
        SourceSpan At(in Utf8JsonReader r) => locator.SpanOfBytes(r.TokenStartIndex + bomBytes, Math.Max(1, r.ValueSpan.Length));
        if (reader.TokenType != JsonTokenType.StartArray)
        {
            sink.Add(DiagnosticCodes.LoadWrongShape.Create(At(reader), $"expected an array of layers (each an array of expert loads), found {Describe(reader.TokenType)}"));
            reader.Skip();
            return null;
        }

        var tableStart = At(reader);
        var shapeReported = false;
        void ReportShape(ref bool reported, SourceSpan span, string message)
        {
            // One shape error per table: a wrong shape repeats in every row.
            if (!reported)
            {
                sink.Add(DiagnosticCodes.LoadWrongShape.Create(span, message));
                reported = true;
            }
        }

        var rows = new List<double[]>();
        double total = 0;
        var rowStarts = new List<SourceSpan>();
        while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
        {
            var layer = rows.Count;
            if (reader.TokenType != JsonTokenType.StartArray)
            {
                ReportShape(ref shapeReported, At(reader), $"layer {layer} should be an array of expert loads, found {Describe(reader.TokenType)}");
                reader.Skip();
                rows.Add([]);
                rowStarts.Add(At(reader));
                continue;
            }

            rowStarts.Add(At(reader));
            var row = new List<double>();
            while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
            {
                var span = At(reader);
                switch (reader.TokenType)
                {
                    case JsonTokenType.Number:
                        var raw = Encoding.UTF8.GetString(reader.ValueSpan);
                        if (!reader.TryGetDouble(out var value) || !double.IsFinite(value))
                        {
                            sink.Add(DiagnosticCodes.LoadNotNumeric.Create(span, TextExcerpt.Of(raw)));
                        }
                        else if (value < 0)
                        {
                            sink.Add(DiagnosticCodes.LoadNegative.Create(span, TextExcerpt.Of(raw)));
                        }
                        else
                        {
                            AddToTotal(ref total, value, span, sink);
                        }

                        row.Add(value);
                        break;
                    case JsonTokenType.StartArray or JsonTokenType.StartObject:
                        ReportShape(ref shapeReported, span, $"layer {layer}, expert {row.Count}: expected a number, found {Describe(reader.TokenType)} (loads are a layers x experts table)");
                        reader.Skip();
                        row.Add(0);
                        break;
                    default:
                        sink.Add(DiagnosticCodes.LoadNotNumeric.Create(span, reader.TokenType == JsonTokenType.String ? $"\"{reader.GetString()}\"" : Encoding.UTF8.GetString(reader.ValueSpan)));
                        row.Add(0);
                        break;
                }

                if (sink.Full)
                {
                    return null;
                }
            }

            rows.Add(row.ToArray());
        }

        if (shapeReported)
        {
            return null;
        }

        if (rows.Count == 0)
        {
            sink.Add(DiagnosticCodes.LoadWrongShape.Create(tableStart, "the table has no layers"));
            return null;
        }

        if (rows[0].Length == 0)
        {
            sink.Add(DiagnosticCodes.LoadWrongShape.Create(rowStarts[0], "layer 0 has no experts"));
            return null;
        }

        for (var i = 1; i < rows.Count && !sink.Full; i++)
        {
            if (rows[i].Length != rows[0].Length)
            {
                sink.Add(DiagnosticCodes.LoadRaggedRows.Create(rowStarts[i], i, rows[i].Length, 0, rows[0].Length));
            }
        }

        return rows;
    }

    private static string Describe(JsonTokenType type) => type switch
    {
        JsonTokenType.StartArray => "an array",
        JsonTokenType.StartObject => "an object",
        JsonTokenType.String => "a string",
        JsonTokenType.Number => "a number",
        JsonTokenType.True or JsonTokenType.False => "a boolean",
        JsonTokenType.Null => "null",
        _ => "nothing",
    };

    /// <summary>"3, 5..9, 12" for an ascending list of ints (at most 8 pieces, then "and N more").</summary>
    internal static string Ranges(IEnumerable<int> values)
    {
        var pieces = new List<string>();
        var sorted = values.Order().ToList();
        var i = 0;
        var shown = 0;
        while (i < sorted.Count)
        {
            var j = i;
            while (j + 1 < sorted.Count && sorted[j + 1] == sorted[j] + 1)
            {
                j++;
            }

            if (pieces.Count == 8)
            {
                pieces.Add($"and {sorted.Count - shown} more");
                break;
            }

            pieces.Add(j == i
                ? sorted[i].ToString(CultureInfo.InvariantCulture)
                : $"{sorted[i].ToString(CultureInfo.InvariantCulture)}..{sorted[j].ToString(CultureInfo.InvariantCulture)}");
            shown += j - i + 1;
            i = j + 1;
        }

        return string.Join(", ", pieces);
    }

    private sealed class DiagnosticSink
    {
        private readonly ImmutableArray<Diagnostic>.Builder _items = ImmutableArray.CreateBuilder<Diagnostic>();
        private int _errors;

        public bool HasErrors => _errors > 0;

        public bool Full => _errors >= MaxErrors;

        public void Add(Diagnostic diagnostic)
        {
            if (Full)
            {
                return;
            }

            _items.Add(diagnostic);
            if (diagnostic.IsError && ++_errors == MaxErrors)
            {
                _items.Add(DiagnosticCodes.LoadTooManyErrors.Create(null, MaxErrors));
            }
        }

        public ImmutableArray<Diagnostic> ToImmutable() => _items.ToImmutable();
    }
}
