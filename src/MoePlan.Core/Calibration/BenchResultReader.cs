using System.Collections.Immutable;
using System.Globalization;
using System.Text;
using System.Text.Json;
using MoePlan.Core.Diagnostics;
using MoePlan.Core.Text;

namespace MoePlan.Core.Calibration;

/// <summary>The serving benchmarks whose result files a measurement can name (docs/calibration.md, "Result files").</summary>
public enum BenchResultFormat
{
    /// <summary><c>python -m sglang.bench_serving --output-file</c>: one JSON object per run, appended (JSONL).</summary>
    SglangBenchServing,

    /// <summary><c>vllm bench serve --save-result</c> (older: <c>benchmarks/benchmark_serving.py</c>): one JSON object per file, or per line with <c>--append-result</c>.</summary>
    VllmBenchServe,
}

public static class BenchResultFormats
{
    public static readonly ImmutableArray<string> Names = ["sglang-bench-serving", "vllm-bench-serve"];

    /// <summary>The name written in measurement files.</summary>
    public static string Name(this BenchResultFormat format) => format == BenchResultFormat.SglangBenchServing ? Names[0] : Names[1];

    /// <summary>The tool, as users know it (in published units and messages).</summary>
    public static string Tool(this BenchResultFormat format) => format == BenchResultFormat.SglangBenchServing ? "sglang.bench_serving" : "vllm bench serve";

    public static BenchResultFormat? Find(string name) => name switch
    {
        "sglang-bench-serving" => BenchResultFormat.SglangBenchServing,
        "vllm-bench-serve" => BenchResultFormat.VllmBenchServe,
        _ => null,
    };
}

/// <summary>A figure read from a serving benchmark's result file.</summary>
/// <param name="File">The result file, resolved against the measurement file.</param>
/// <param name="Line">The line of the file the run starts on.</param>
/// <param name="Key">The result key (or expression) the figure is read from (<c>mean_tpot_ms</c>, <c>total_input_tokens / duration</c>).</param>
/// <param name="Figure">The figure as the tool printed it: for the whole deployment when <paramref name="PerDevice"/>.</param>
/// <param name="PerDevice">The metric is per device: the measured value is <paramref name="Figure"/> over the devices of the pool that produced it, known once the plan is compiled.</param>
/// <param name="Unit">The figure's unit and tool, in words ("output tok/s, sglang.bench_serving").</param>
public sealed record BenchResult(string File, BenchResultFormat Format, int Line, string Key, double Figure, bool PerDevice, string Unit);

/// <summary>What a measurement's <c>result</c> names, with where each part is written.</summary>
/// <param name="File">The result file, resolved.</param>
/// <param name="FileSpan">Where the file is named (a file that cannot be read is reported there).</param>
/// <param name="Format">The format named, or null to detect it from the content.</param>
/// <param name="Line">The line of the run to read, or null when the file holds one run.</param>
/// <param name="LineSpan">Where <c>line</c> is written (or the result, when it is not).</param>
public sealed record BenchResultReference(string File, SourceSpan FileSpan, BenchResultFormat? Format, int? Line, SourceSpan LineSpan);

/// <summary>
/// Reads the figure a metric needs from the JSON result of <c>sglang.bench_serving</c> or vLLM's serving benchmark.
/// Runs are the file's top-level JSON objects (one per line as the tools append them; a pretty-printed object is one run
/// too); Python's <c>Infinity</c> and <c>NaN</c> (SGLang writes <c>"request_rate": Infinity</c>) are read as values that
/// are not numbers. Every problem is a located MP583x diagnostic; nothing throws on bad input.
/// </summary>
public static class BenchResultReader
{
    private sealed record Source(string Path, byte[] Bytes, int[] LineStarts);

    /// <summary>A top-level value of a run: its number when it is one, its text as written, where it starts (bytes).</summary>
    private sealed record RunValue(double? Number, string Raw, int Offset);

    private sealed record Run(int Line, int Offset, Dictionary<string, RunValue> Values);

    /// <summary>How a metric is read from a run of each format.</summary>
    private sealed record MetricKeys(string Metric, bool PerDevice, string Unit, string SglangKey, string VllmKey, string? VllmDivisorKey, string RelatedKeyPart);

    private static readonly ImmutableArray<MetricKeys> Metrics =
    [
        new("decode.tpot_ms", false, "ms mean TPOT", "mean_tpot_ms", "mean_tpot_ms", null, "tpot"),
        new("prefill.ttft_ms", false, "ms mean TTFT", "mean_ttft_ms", "mean_ttft_ms", null, "ttft"),
        new("decode.output_tokens_per_s_per_device", true, "output tok/s", "output_throughput", "output_throughput", null, "output"),
        // vLLM prints no input throughput: its total input tokens over the run's duration is the same figure as SGLang's.
        new("prefill.input_tokens_per_s_per_device", true, "input tok/s", "input_throughput", "total_input_tokens", "duration", "input"),
    ];

    /// <summary>The metrics a result file gives.</summary>
    public static IEnumerable<string> MetricNames => Metrics.Select(m => m.Metric);

    /// <summary>Keys only one tool writes: how the format is told from the content when the measurement does not name it.</summary>
    private static readonly string[] SglangOnlyKeys = ["total_output_tokens_retokenized", "mean_e2e_latency_ms", "input_throughput"];
    private static readonly string[] VllmOnlyKeys = ["model_id", "tokenizer_id", "total_token_throughput"];

    /// <summary>Reads the figure of <paramref name="metric"/>; null (with diagnostics) when it cannot.</summary>
    public static BenchResult? Read(BenchResultReference reference, CostMetric metric, SourceSpan metricSpan, ISourceResolver resolver, ICollection<Diagnostic> diagnostics)
    {
        ArgumentNullException.ThrowIfNull(reference);
        ArgumentNullException.ThrowIfNull(metric);
        ArgumentNullException.ThrowIfNull(resolver);
        ArgumentNullException.ThrowIfNull(diagnostics);
        var keys = Metrics.FirstOrDefault(k => k.Metric == metric.Name);
        if (keys is null)
        {
            diagnostics.Add(DiagnosticCodes.BenchResultMetricNotImported.Create(metricSpan, metric.Name, string.Join(", ", MetricNames)));
            return null;
        }

        if (!resolver.TryRead(reference.File, out var text, out var error))
        {
            diagnostics.Add(DiagnosticCodes.BenchResultUnreadable.Create(reference.FileSpan, reference.File, error));
            return null;
        }

        var source = new Source(reference.File, Encoding.UTF8.GetBytes(text), []);
        source = source with { LineStarts = LineStarts(source.Bytes) };
        if (Runs(source, diagnostics) is not { } runs)
        {
            return null;
        }

        var lines = string.Join(", ", runs.Select(r => r.Line.ToString(CultureInfo.InvariantCulture)));
        Run run;
        if (reference.Line is { } line)
        {
            if (runs.FirstOrDefault(r => r.Line == line) is not { } atLine)
            {
                diagnostics.Add(DiagnosticCodes.BenchResultNoRunAtLine.Create(reference.LineSpan, line, reference.File, lines));
                return null;
            }

            run = atLine;
        }
        else if (runs.Count > 1)
        {
            diagnostics.Add(DiagnosticCodes.BenchResultLineRequired.Create(reference.LineSpan, reference.File, runs.Count, lines));
            return null;
        }
        else
        {
            run = runs[0];
        }

        var format = reference.Format ?? Detect(run, source, diagnostics);
        if (format is not { } f)
        {
            return null;
        }

        if (run.Values.TryGetValue("completed", out var completed) && completed.Number is not > 0)
        {
            diagnostics.Add(DiagnosticCodes.BenchResultNothingCompleted.Create(Span(source, completed.Offset), completed.Raw));
            return null;
        }

        var key = f == BenchResultFormat.SglangBenchServing ? keys.SglangKey : keys.VllmKey;
        var divisorKey = f == BenchResultFormat.SglangBenchServing ? null : keys.VllmDivisorKey;
        var figure = Figure(run, key, f, keys, metric, source, diagnostics);
        if (divisorKey is not null)
        {
            var divisor = Figure(run, divisorKey, f, keys, metric, source, diagnostics);
            figure = figure is { } n && divisor is { } d ? n / d : null;
        }

        return figure is { } value
            ? new BenchResult(reference.File, f, run.Line, divisorKey is null ? key : $"{key} / {divisorKey}", value, keys.PerDevice, $"{keys.Unit}, {f.Tool()}")
            : null;
    }

    private static double? Figure(Run run, string key, BenchResultFormat format, MetricKeys keys, CostMetric metric, Source source, ICollection<Diagnostic> diagnostics)
    {
        if (!run.Values.TryGetValue(key, out var value))
        {
            // Keys of the same quantity (an old SGLang line has median_tpot_ms but no mean): named, not taken, since they are other statistics.
            var related = run.Values.Keys.Where(k => k.Contains(keys.RelatedKeyPart, StringComparison.Ordinal)).Order(StringComparer.Ordinal).ToList();
            var hint = related.Count == 0
                ? ""
                : $"; it has {string.Join(", ", related.Select(k => $"`{k}`"))}, not the same statistic: if one of them is what you measured, state it with `value`";
            diagnostics.Add(DiagnosticCodes.BenchResultKeyMissing.Create(Span(source, run.Offset), format.Tool(), key, metric.Name, hint));
            return null;
        }

        if (value.Number is not { } number || !double.IsFinite(number) || number <= 0)
        {
            diagnostics.Add(DiagnosticCodes.BenchResultValueInvalid.Create(Span(source, value.Offset), key, TextExcerpt.Of(value.Raw)));
            return null;
        }

        return number;
    }

    private static BenchResultFormat? Detect(Run run, Source source, ICollection<Diagnostic> diagnostics)
    {
        var sglang = SglangOnlyKeys.Where(run.Values.ContainsKey).ToList();
        var vllm = VllmOnlyKeys.Where(run.Values.ContainsKey).ToList();
        if (sglang.Count > 0 && vllm.Count == 0)
        {
            return BenchResultFormat.SglangBenchServing;
        }

        if (vllm.Count > 0 && sglang.Count == 0)
        {
            return BenchResultFormat.VllmBenchServe;
        }

        var why = sglang.Count > 0
            ? $"it has keys only sglang.bench_serving writes ({string.Join(", ", sglang)}) and keys only vLLM's benchmark writes ({string.Join(", ", vllm)})"
            : $"it has none of the keys only sglang.bench_serving writes ({string.Join(", ", SglangOnlyKeys)}) or only vLLM's benchmark writes ({string.Join(", ", VllmOnlyKeys)})";
        diagnostics.Add(DiagnosticCodes.BenchResultFormatUnknown.Create(Span(source, run.Offset), why));
        return null;
    }

    /// <summary>The file's runs with their top-level values; null (with a diagnostic) when it is not JSON lines of objects.</summary>
    private static List<Run>? Runs(Source source, ICollection<Diagnostic> diagnostics)
    {
        var runs = new List<Run>();
        var reader = new Utf8JsonReader(StandardLiterals(source.Bytes), new JsonReaderOptions { AllowMultipleValues = true, MaxDepth = 64 });
        try
        {
            while (reader.Read())
            {
                var start = (int)reader.TokenStartIndex;
                if (reader.TokenType != JsonTokenType.StartObject)
                {
                    diagnostics.Add(DiagnosticCodes.BenchResultSyntax.Create(Span(source, start), $"a run must be a JSON object, not {Raw(source, start, FirstTokenEnd(ref reader))}"));
                    return null;
                }

                var values = new Dictionary<string, RunValue>(StringComparer.Ordinal);
                while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
                {
                    var name = reader.GetString() ?? "";
                    reader.Read();
                    var valueStart = (int)reader.TokenStartIndex;
                    switch (reader.TokenType)
                    {
                        case JsonTokenType.StartObject or JsonTokenType.StartArray:
                            var kind = reader.TokenType == JsonTokenType.StartArray ? "a list" : "an object";
                            reader.Skip();
                            values[name] = new RunValue(null, kind, valueStart);
                            break;
                        case JsonTokenType.Number:
                            values[name] = new RunValue(reader.TryGetDouble(out var number) ? number : null, Raw(source, valueStart, (int)reader.BytesConsumed), valueStart);
                            break;
                        default:
                            // Strings, true/false/null, and Python's NaN/Infinity (read as strings, shown as written).
                            values[name] = new RunValue(null, Raw(source, valueStart, (int)reader.BytesConsumed), valueStart);
                            break;
                    }
                }

                runs.Add(new Run(Position(source, start).Line, start, values));
            }
        }
        catch (JsonException e)
        {
            var line = (int)Math.Min(int.MaxValue - 1, e.LineNumber ?? 0) + 1;
            var column = (int)Math.Min(int.MaxValue - 1, e.BytePositionInLine ?? 0) + 1;
            var offset = line - 1 < source.LineStarts.Length ? source.LineStarts[line - 1] : source.Bytes.Length;
            diagnostics.Add(DiagnosticCodes.BenchResultSyntax.Create(new SourceSpan(source.Path, CharOffset(source, offset), 0, line, column), JsonMessage(e)));
            return null;
        }

        if (runs.Count == 0)
        {
            diagnostics.Add(DiagnosticCodes.BenchResultSyntax.Create(new SourceSpan(source.Path, 0, 0, 1, 1), "the file holds no run"));
            return null;
        }

        return runs;
    }

    private static int FirstTokenEnd(ref Utf8JsonReader reader)
    {
        if (reader.TokenType == JsonTokenType.StartArray)
        {
            return (int)reader.TokenStartIndex + 1;
        }

        return (int)reader.BytesConsumed;
    }

    /// <summary>System.Text.Json's message without its 0-based position (the diagnostic's location says where, 1-based).</summary>
    private static string JsonMessage(JsonException e)
    {
        var message = e.Message;
        var cut = message.IndexOf(" LineNumber:", StringComparison.Ordinal);
        return (cut > 0 ? message[..cut] : message).TrimEnd();
    }

    /// <summary>
    /// Python's json writes <c>NaN</c>, <c>Infinity</c> and <c>-Infinity</c>, which are not JSON: outside strings they become
    /// strings of the same length (<c>"N"</c>, <c>"Infini"</c>, <c>"-Infini"</c>) so positions and the text shown stay the file's.
    /// </summary>
    private static byte[] StandardLiterals(byte[] bytes)
    {
        byte[]? copy = null;
        var inString = false;
        for (var i = 0; i < bytes.Length; i++)
        {
            var b = bytes[i];
            if (inString)
            {
                if (b == '\\')
                {
                    i++;
                }
                else if (b == '"')
                {
                    inString = false;
                }

                continue;
            }

            if (b == '"')
            {
                inString = true;
                continue;
            }

            var replacement = At(bytes, i, "-Infinity"u8) ? "\"-Infini\""u8 : At(bytes, i, "Infinity"u8) ? "\"Infini\""u8 : At(bytes, i, "NaN"u8) ? "\"N\""u8 : default;
            if (!replacement.IsEmpty)
            {
                copy ??= (byte[])bytes.Clone();
                replacement.CopyTo(copy.AsSpan(i));
                i += replacement.Length - 1;
            }
        }

        return copy ?? bytes;
    }

    private static bool At(byte[] bytes, int i, ReadOnlySpan<byte> literal) => bytes.AsSpan(i).StartsWith(literal);

    private static int[] LineStarts(byte[] bytes)
    {
        var starts = new List<int> { 0 };
        for (var i = 0; i < bytes.Length; i++)
        {
            if (bytes[i] == '\n')
            {
                starts.Add(i + 1);
            }
        }

        return [.. starts];
    }

    private static string Raw(Source source, int start, int end) => Encoding.UTF8.GetString(source.Bytes, start, Math.Max(0, end - start));

    private static int CharOffset(Source source, int byteOffset) => Encoding.UTF8.GetCharCount(source.Bytes, 0, Math.Min(byteOffset, source.Bytes.Length));

    private static (int Line, int Column) Position(Source source, int byteOffset)
    {
        var index = Array.BinarySearch(source.LineStarts, byteOffset);
        var line = index >= 0 ? index : ~index - 1;
        var lineStart = source.LineStarts[line];
        return (line + 1, Encoding.UTF8.GetCharCount(source.Bytes, lineStart, byteOffset - lineStart) + 1);
    }

    private static SourceSpan Span(Source source, int byteOffset)
    {
        var (line, column) = Position(source, byteOffset);
        return new SourceSpan(source.Path, CharOffset(source, byteOffset), 0, line, column);
    }
}
