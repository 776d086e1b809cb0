using MoePlan.Core.Calibration;
using MoePlan.Core.Diagnostics;
using MoePlan.Tests.Support;
using Xunit;

namespace MoePlan.Core.Tests.Calibration;

/// <summary>
/// Measurements read from serving-benchmark result files. The two files in tests/data/bench-results/ were written by the
/// tools' own code against moeplan's emulated engine (tests/data/SOURCES.md); the expected figures below are read off
/// the files by eye, digit for digit.
/// </summary>
public sealed class BenchResultReaderTests
{
    private const string Sglang = "tests/data/bench-results/sglang_1203_50_1024_256.jsonl";
    private const string Vllm = "tests/data/bench-results/vllm-inf-concurrency8-Qwen1.5-MoE-A2.7B.json";

    private static readonly string SglangText = File.ReadAllText(RepositoryPaths.PathOf(Sglang.Split('/')));

    private static (Measurement? Measurement, Diagnostic[] Diagnostics) ReadOne(string yamlEntry, Dictionary<string, string>? files = null)
    {
        var resolver = new MemorySourceResolver(files ?? [], readRepository: true);
        var (measurements, diagnostics) = MeasurementReader.Parse("m.yaml", "measurements:\n  - " + yamlEntry.Replace("\n", "\n    ", StringComparison.Ordinal) + "\n", resolver);
        return (measurements.SingleOrDefault(), [.. diagnostics]);
    }

    private static string Entry(string metric, string result, string plan = "plans/deepseek-v3-h800.moe") =>
        $"name: case\nplan: {plan}\nmetric: {metric}\nresult: {result}\nsource: emulated engine";

    public static TheoryData<int, string, double> SglangFigures() => new()
    {
        // line 1 (--max-concurrency 16): "mean_tpot_ms": 29.52663633709702, "mean_ttft_ms": 148.39283320019604,
        // "output_throughput": 422.27705810777564, "input_throughput": 1689.1082324311026
        { 1, "decode.tpot_ms", 29.52663633709702 },
        { 1, "tpot_ms", 29.52663633709702 },
        { 1, "prefill.ttft_ms", 148.39283320019604 },
        { 1, "decode.output_tokens_per_s_per_device", 422.27705810777564 },
        { 1, "prefill.input_tokens_per_s_per_device", 1689.1082324311026 },
        // line 2 (--max-concurrency 32): "mean_tpot_ms": 29.681750559922264, "output_throughput": 827.2021459254512
        { 2, "decode.tpot_ms", 29.681750559922264 },
        { 2, "decode.output_tokens_per_s_per_device", 827.2021459254512 },
    };

    [Theory]
    [MemberData(nameof(SglangFigures))]
    public void The_sglang_importer_reads_the_figure_each_metric_names_from_the_line_asked_for(int line, string metric, double printed)
    {
        var (m, diagnostics) = ReadOne(Entry(metric, $"{{ file: {Sglang}, line: {line} }}"));
        Assert.Empty(diagnostics);
        var result = m!.Result!;
        Assert.Equal(BenchResultFormat.SglangBenchServing, result.Format); // detected: the file does not say `format`
        Assert.Equal(line, result.Line);
        Assert.Equal(printed, result.Figure);
        Assert.Equal(m.Metric.Name.EndsWith("_per_device", StringComparison.Ordinal), result.PerDevice);
        if (!result.PerDevice)
        {
            Assert.Equal(printed, m.Value); // latencies are not divided
        }
    }

    public static TheoryData<string, double, string> VllmFigures() => new()
    {
        // "mean_tpot_ms": 11.879054988663613, "mean_ttft_ms": 89.29680884015397, "output_throughput": 587.584800479441,
        // "total_input_tokens": 25600 over "duration": 10.892044849999365 (vLLM prints no input throughput).
        { "decode.tpot_ms", 11.879054988663613, "mean_tpot_ms" },
        { "prefill.ttft_ms", 89.29680884015397, "mean_ttft_ms" },
        { "decode.output_tokens_per_s_per_device", 587.584800479441, "output_throughput" },
        { "prefill.input_tokens_per_s_per_device", 25600 / 10.892044849999365, "total_input_tokens / duration" },
    };

    [Theory]
    [MemberData(nameof(VllmFigures))]
    public void The_vllm_importer_reads_the_figure_each_metric_names(string metric, double printed, string key)
    {
        var (m, diagnostics) = ReadOne(Entry(metric, $"{{ file: {Vllm}, format: vllm-bench-serve }}", "plans/qwen1.5-moe-tiny.moe"));
        Assert.Empty(diagnostics);
        Assert.Equal(new BenchResult(Vllm, BenchResultFormat.VllmBenchServe, 1, key, printed, m!.Metric.Name.EndsWith("_per_device", StringComparison.Ordinal),
            (metric.StartsWith("decode.output", StringComparison.Ordinal) ? "output tok/s" : metric.StartsWith("prefill.input", StringComparison.Ordinal) ? "input tok/s" : metric.StartsWith("decode", StringComparison.Ordinal) ? "ms mean TPOT" : "ms mean TTFT") + ", vllm bench serve"),
            m.Result);
        // Detected from the content too (it has `model_id`, `tokenizer_id`, `total_token_throughput`).
        Assert.Equal(m.Result, ReadOne(Entry(metric, $"{{ file: {Vllm} }}", "plans/qwen1.5-moe-tiny.moe")).Measurement!.Result);
    }

    [Fact]
    public void A_per_device_figure_is_the_printed_one_over_the_devices_of_the_pool_that_produced_it()
    {
        // plans/deepseek-v3-h800.moe: decode { instances 1, dp 144 } -> 144 devices; prefill { instances 3, dp 32 } -> 96.
        // plans/qwen3-235b-h200-aggregated.moe: one serve { instances 1, tp 8 } pool prefills and decodes -> 8 devices for both.
        // (The vLLM file was measured on another plan's emulator: here it only exercises the division.)
        const string Yaml = $$"""
            measurements:
              - name: sglang decode
                plan: plans/deepseek-v3-h800.moe
                metric: decode.output_tokens_per_s_per_device
                result: { file: {{Sglang}}, format: sglang-bench-serving, line: 1 }
                source: emulated engine
              - name: sglang prefill
                plan: plans/deepseek-v3-h800.moe
                metric: prefill.input_tokens_per_s_per_device
                result: { file: {{Sglang}}, line: 1 }
                source: emulated engine
              - name: colocated prefill
                plan: plans/qwen3-235b-h200-aggregated.moe
                metric: prefill.input_tokens_per_s_per_device
                result: { file: {{Vllm}} }
                source: emulated engine
              - name: colocated decode
                plan: plans/qwen3-235b-h200-aggregated.moe
                metric: decode.output_tokens_per_s_per_device
                result: { file: {{Vllm}} }
                source: emulated engine
              - name: sglang tpot
                plan: plans/deepseek-v3-h800.moe
                metric: decode.tpot_ms
                result: { file: {{Sglang}}, line: 2 }
                source: emulated engine
            """;
        var resolver = new MemorySourceResolver(new Dictionary<string, string>(), readRepository: true);
        var (measurements, readDiagnostics) = MeasurementReader.Parse("m.yaml", Yaml, resolver);
        Assert.Empty(readDiagnostics);
        var (cases, diagnostics) = MeasurementSet.Prepare(measurements, resolver);
        Assert.DoesNotContain(diagnostics, d => d.IsError);
        var byName = cases.ToDictionary(c => c.Measurement.Name, c => c.Measurement);
        Assert.Equal(422.27705810777564 / 144, byName["sglang decode"].Value);
        Assert.Equal(new PublishedFigure(422.27705810777564, 144, "output tok/s, sglang.bench_serving"), byName["sglang decode"].Published);
        Assert.Equal(1689.1082324311026 / 96, byName["sglang prefill"].Value);
        Assert.Equal(new PublishedFigure(1689.1082324311026, 96, "input tok/s, sglang.bench_serving"), byName["sglang prefill"].Published);
        Assert.Equal(25600 / 10.892044849999365 / 8, byName["colocated prefill"].Value);
        Assert.Equal(587.584800479441 / 8, byName["colocated decode"].Value);
        Assert.Equal(8, byName["colocated decode"].Published!.Devices);
        Assert.Equal(29.681750559922264, byName["sglang tpot"].Value);
        Assert.Null(byName["sglang tpot"].Published);
    }

    [Fact]
    public void A_vllm_figure_is_divided_by_the_devices_of_its_own_plan()
    {
        // plans/qwen1.5-moe-tiny.moe (Ascend, so calibrated apart from the Hopper cases above): decode { instances 1, dp 4 }.
        var yaml = $"measurements:\n  - {{ name: vllm decode, plan: plans/qwen1.5-moe-tiny.moe, metric: decode.output_tokens_per_s_per_device, result: {{ file: {Vllm} }}, source: emulated engine }}\n";
        var resolver = new MemorySourceResolver(new Dictionary<string, string>(), readRepository: true);
        var (measurements, readDiagnostics) = MeasurementReader.Parse("m.yaml", yaml, resolver);
        Assert.Empty(readDiagnostics);
        var (cases, diagnostics) = MeasurementSet.Prepare(measurements, resolver);
        Assert.DoesNotContain(diagnostics, d => d.IsError);
        var m = Assert.Single(cases).Measurement;
        Assert.Equal(587.584800479441 / 4, m.Value);
        Assert.Equal(new PublishedFigure(587.584800479441, 4, "output tok/s, vllm bench serve"), m.Published);
    }

    [Fact]
    public void Csv_columns_name_a_result_as_yaml_does()
    {
        var resolver = new MemorySourceResolver(new Dictionary<string, string>(), readRepository: true);
        var csv = $"name,plan,metric,result_file,result_format,result_line,source\ncase,plans/deepseek-v3-h800.moe,decode.tpot_ms,{Sglang},sglang-bench-serving,2,emulated engine\n";
        var (fromCsv, csvDiagnostics) = MeasurementReader.Parse("m.csv", csv, resolver);
        Assert.Empty(csvDiagnostics);
        var (fromYaml, _) = ReadOne(Entry("decode.tpot_ms", $"{{ file: {Sglang}, format: sglang-bench-serving, line: 2 }}"));
        var c = Assert.Single(fromCsv);
        Assert.Equal(fromYaml!.Result, c.Result);
        Assert.Equal(29.681750559922264, c.Value);
    }

    private static string Line(int line) => SglangText.Split('\n')[line - 1];

    /// <summary>Column (1-based) just after <paramref name="text"/> in line 1 of the SGLang file: where its value starts.</summary>
    private static int After(string line, string text) => line.IndexOf(text, StringComparison.Ordinal) + text.Length + 1;

    public static TheoryData<string, string, string, string, int, int> Broken()
    {
        var one = Line(1);
        var two = Line(2);
        var data = new TheoryData<string, string, string, string, int, int>
        {
            // case, broken.jsonl (or "" for none), measurement's result (and extra keys), code, line, column (in m.yaml when the fix is there)
            { "file missing", "", "{ file: runs/none.jsonl }", "MP5830", 5, 21 },
            { "truncated JSON", one[..400], "{ file: broken.jsonl }", "MP5831", 1, 401 },
            { "bad JSONL line", one + "\n" + "{\"backend\": sglang-oai}\n", "{ file: broken.jsonl, line: 1 }", "MP5831", 2, 13 },
            { "not an object", "[1, 2]\n", "{ file: broken.jsonl }", "MP5831", 1, 1 },
            { "empty file", "\n", "{ file: broken.jsonl }", "MP5831", 1, 1 },
            { "line out of range", one + "\n" + two + "\n", "{ file: broken.jsonl, line: 3 }", "MP5832", 5, 41 },
            { "line required", one + "\n" + two + "\n", "{ file: broken.jsonl }", "MP5833", 5, 5 },
            { "format not told", "{\"completed\": 5, \"mean_tpot_ms\": 3.5}\n", "{ file: broken.jsonl }", "MP5834", 1, 1 },
            // An old SGLang line: the median but not the mean.
            { "key missing", one.Replace("\"mean_tpot_ms\": 29.52663633709702, ", "", StringComparison.Ordinal), "{ file: broken.jsonl }", "MP5835", 1, 1 },
            { "not a number", one.Replace("\"mean_tpot_ms\": 29.52663633709702", "\"mean_tpot_ms\": \"fast\"", StringComparison.Ordinal), "{ file: broken.jsonl }", "MP5836", 1, After(one, "\"mean_tpot_ms\": ") },
            { "NaN", one.Replace("\"mean_tpot_ms\": 29.52663633709702", "\"mean_tpot_ms\": NaN", StringComparison.Ordinal), "{ file: broken.jsonl }", "MP5836", 1, After(one, "\"mean_tpot_ms\": ") },
            { "zero", one.Replace("\"mean_tpot_ms\": 29.52663633709702", "\"mean_tpot_ms\": 0", StringComparison.Ordinal), "{ file: broken.jsonl }", "MP5836", 1, After(one, "\"mean_tpot_ms\": ") },
            { "nothing completed", one.Replace("\"completed\": 50", "\"completed\": 0", StringComparison.Ordinal), "{ file: broken.jsonl }", "MP5837", 1, After(one, "\"completed\": ") },
            { "value and result", one, "{ file: broken.jsonl }\nvalue: 29.5", "MP5838", 5, 5 },
            { "unknown format", one, "{ file: broken.jsonl, format: sglang }", "MP5806", 5, 43 },
            { "line not a number", one, "{ file: broken.jsonl, line: two }", "MP5806", 5, 41 },
            { "result without file", one, "{ line: 1 }", "MP5804", 5, 13 },
            { "result not a mapping", one, "broken.jsonl", "MP5802", 5, 13 },
        };
        return data;
    }

    [Theory]
    [MemberData(nameof(Broken))]
    public void Every_broken_result_gets_a_located_diagnostic_and_no_measurement(string @case, string broken, string result, string code, int line, int column)
    {
        var files = broken.Length == 0 ? [] : new Dictionary<string, string> { ["broken.jsonl"] = broken };
        var (m, diagnostics) = ReadOne(Entry("decode.tpot_ms", result), files);
        Assert.Null(m);
        var first = diagnostics.First(d => d.IsError);
        // Problems of the result's content are located in the result file; problems of the measurement in m.yaml.
        var file = code is "MP5831" or "MP5834" or "MP5835" or "MP5836" or "MP5837" ? "broken.jsonl" : "m.yaml";
        Assert.True(first.Code == code && first.Span is { } s && s.File == file && s.Line == line && s.Column == column,
            $"{@case}: expected {file}({line},{column}) {code}, got {first}");
    }

    [Fact]
    public void A_missing_key_says_which_key_and_which_keys_the_run_has_instead()
    {
        var old = Line(1).Replace("\"mean_tpot_ms\": 29.52663633709702, ", "", StringComparison.Ordinal);
        var (_, diagnostics) = ReadOne(Entry("decode.tpot_ms", "{ file: broken.jsonl }"), new() { ["broken.jsonl"] = old });
        Assert.Equal(
            "broken.jsonl(1,1): error MP5835: this sglang.bench_serving run has no `mean_tpot_ms`, which `decode.tpot_ms` is read from; it has "
            + "`median_tpot_ms`, `p99_tpot_ms`, `std_tpot_ms`, not the same statistic: if one of them is what you measured, state it with `value`",
            Assert.Single(diagnostics).ToString());
    }

    [Fact]
    public void Python_nan_is_shown_as_written()
    {
        var nan = Line(1).Replace("\"mean_tpot_ms\": 29.52663633709702", "\"mean_tpot_ms\": NaN", StringComparison.Ordinal);
        var (_, diagnostics) = ReadOne(Entry("decode.tpot_ms", "{ file: broken.jsonl }"), new() { ["broken.jsonl"] = nan });
        Assert.EndsWith("error MP5836: `mean_tpot_ms` is NaN, not a positive number", Assert.Single(diagnostics).ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void A_metric_the_benchmarks_do_not_print_is_refused_at_the_metric()
    {
        var (m, diagnostics) = ReadOne(Entry("decode.step_ms", $"{{ file: {Sglang}, line: 1 }}"));
        Assert.Null(m);
        var d = Assert.Single(diagnostics);
        Assert.Equal(("MP5839", 4, 13), (d.Code, d.Span!.Value.Line, d.Span.Value.Column));
    }

    [Fact]
    public void Deep_nesting_is_a_syntax_error_not_a_stack_overflow()
    {
        var deep = "{\"completed\": " + new string('[', 10_000) + new string(']', 10_000) + "}\n";
        var (m, diagnostics) = ReadOne(Entry("decode.tpot_ms", "{ file: broken.jsonl }"), new() { ["broken.jsonl"] = deep });
        Assert.Null(m);
        var d = Assert.Single(diagnostics);
        Assert.Equal(("MP5831", "broken.jsonl", 1), (d.Code, d.Span!.Value.File, d.Span.Value.Line));
    }

    [Fact]
    public void A_csv_row_with_a_value_and_a_result_file_is_refused_at_the_result_file()
    {
        var resolver = new MemorySourceResolver(new Dictionary<string, string>(), readRepository: true);
        var csv = $"plan,metric,value,result_file,source\nplans/deepseek-v3-h800.moe,tpot_ms,29.5,{Sglang},ours\n";
        var (measurements, diagnostics) = MeasurementReader.Parse("m.csv", csv, resolver);
        Assert.Empty(measurements);
        var d = Assert.Single(diagnostics);
        // Row 2, the fourth field: after "plans/deepseek-v3-h800.moe,tpot_ms,29.5,".
        Assert.Equal(("MP5838", 2, "plans/deepseek-v3-h800.moe,tpot_ms,29.5,".Length + 1), (d.Code, d.Span!.Value.Line, d.Span.Value.Column));
    }

    [Fact]
    public void No_single_character_edit_of_a_real_run_crashes_the_reader()
    {
        // Deterministic edits: every 13th character of line 1 replaced by each JSON punctuation mark (or removed).
        var one = Line(1);
        foreach (var i in Enumerable.Range(0, one.Length).Where(i => i % 13 == 0))
        {
            foreach (var edit in new[] { "", "{", "}", "[", "]", "\"", ",", ":", "-", "N", "\\" })
            {
                var text = one[..i] + edit + one[(i + 1)..] + "\n";
                var (m, diagnostics) = ReadOne(Entry("decode.output_tokens_per_s_per_device", "{ file: broken.jsonl }"), new() { ["broken.jsonl"] = text });
                Assert.True(m is not null || diagnostics.Any(d => d.IsError && d.Span is not null), $"edit '{edit}' at {i}: neither a measurement nor a located error");
            }
        }
    }

    [Fact]
    public void No_prefix_of_a_real_result_file_crashes_the_reader()
    {
        for (var length = 0; length <= SglangText.Length; length += 7)
        {
            var (m, diagnostics) = ReadOne(Entry("decode.tpot_ms", "{ file: broken.jsonl, line: 1 }"), new() { ["broken.jsonl"] = SglangText[..length] });
            Assert.True(m is not null || diagnostics.Any(d => d.IsError && d.Span is not null), $"{length} characters: neither a measurement nor a located error");
        }
    }
}
