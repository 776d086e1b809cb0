using MoePlan.Core.Calibration;
using MoePlan.Core.Tests.Cost;
using MoePlan.Tests.Support;
using Xunit;

namespace MoePlan.Core.Tests.Calibration;

public sealed class MeasurementReaderTests
{
    private static readonly MemorySourceResolver Resolver = new(new Dictionary<string, string>(), readRepository: true);

    [Fact]
    public void The_published_file_holds_nine_per_device_values_each_its_published_per_node_figure_over_eight()
    {
        var (measurements, diagnostics) = MeasurementReader.Read(CalibrationCase.File, MemorySourceResolver.FromRepository(CalibrationCase.File));
        Assert.Empty(diagnostics);
        Assert.Equal(9, measurements.Length);
        // The per-node figures as printed by LMSYS (2025-05-05) and DeepSeek (open-infra-index day 6), each over 8 GPUs.
        double[] perNode = [57_674, 54_543, 50_302, 59_337, 22_282, 17_373, 32_200, 73_700, 14_800];
        for (var i = 0; i < perNode.Length; i++)
        {
            Assert.Equal(perNode[i] / 8, measurements[i].Value);
            Assert.Equal(new PublishedFigure(perNode[i], 8, measurements[i].Published!.Unit), measurements[i].Published);
        }

        Assert.True(measurements[3].PerfectBalance);
        Assert.Equal(1, measurements.Count(m => m.PerfectBalance));
        Assert.Equal("plans/deepseek-v3-h800.moe", measurements[8].Plan);
    }

    [Fact]
    public void Csv_and_yaml_say_the_same_thing()
    {
        const string Yaml = """
            measurements:
              - name: decode at 128
                plan: ../deepseek-v3-h800.moe
                metric: tpot_ms
                value: 48.5
                source: our cluster, 2026-11-30
                perfect_balance: true
                set: [decode.max_batch=128, "workload.arrivals=poisson 8/s"]
                published: { value: 388, devices: 8, unit: ms summed over a node }
            """;
        const string Csv = """
            # a comment line
            name,plan,metric,value,source,perfect_balance,set,published_value,published_devices,published_unit
            decode at 128,../deepseek-v3-h800.moe,tpot_ms,48.5,"our cluster, 2026-11-30",true,decode.max_batch=128;workload.arrivals=poisson 8/s,388,8,ms summed over a node
            """;
        var (fromYaml, yamlDiagnostics) = MeasurementReader.Parse("plans/calibration/m.yaml", Yaml, Resolver);
        var (fromCsv, csvDiagnostics) = MeasurementReader.Parse("plans/calibration/m.csv", Csv, Resolver);
        Assert.Empty(yamlDiagnostics);
        Assert.Empty(csvDiagnostics);
        var y = Assert.Single(fromYaml);
        var c = Assert.Single(fromCsv);
        Assert.Equal("decode.tpot_ms", y.Metric.Name);
        Assert.Equal("plans/deepseek-v3-h800.moe", y.Plan);
        Assert.Equal(["decode.max_batch=128", "workload.arrivals=poisson 8/s"], y.Overrides.Select(o => o.Original));
        Assert.Equal(y with { Span = c.Span, PlanSpan = c.PlanSpan, Overrides = c.Overrides }, c);
        Assert.Equal(y.Overrides.Select(o => o.Original), c.Overrides.Select(o => o.Original));
        Assert.Equal((3, 1), (c.Span.Line, c.Span.Column));
    }

    public static TheoryData<string, string, string, int, int> Malformed() => new()
    {
        // file name, text, code, line, column
        { "m.yaml", "measurements: [\n  {plan: a.moe", "MP5801", 3, 1 }, // the end of the file, where the flow mapping should close
        { "m.yaml", "- plan: a.moe\n", "MP5802", 1, 1 },
        { "m.yaml", "measurements: 3\n", "MP5802", 1, 15 },
        { "m.yaml", "measurements:\n  - 3\n", "MP5802", 2, 5 },
        { "m.yaml", "measuremens: []\n", "MP5803", 1, 1 },
        { "m.yaml", "measurements:\n  - plan: a.moe\n    metric: tpot_ms\n    value: 3\n    source: s\n    color: red\n", "MP5803", 6, 5 },
        { "m.yaml", "measurements:\n  - plan: a.moe\n    metric: tpot_ms\n    value: 3\n", "MP5804", 2, 5 },
        { "m.yaml", "measurements:\n  - plan: a.moe\n    metric: decode.tpot\n    value: 3\n    source: s\n", "MP5805", 3, 13 },
        { "m.yaml", "measurements:\n  - plan: a.moe\n    metric: tpot_ms\n    value: 57,674\n    source: s\n", "MP5806", 4, 12 },
        { "m.yaml", "measurements:\n  - plan: a.moe\n    metric: tpot_ms\n    value: -3\n    source: s\n", "MP5806", 4, 12 },
        { "m.yaml", "measurements:\n  - plan: a.moe\n    metric: tpot_ms\n    value: [3]\n    source: s\n", "MP5802", 4, 12 },
        { "m.yaml", "measurements:\n  - plan: a.moe\n    metric: tpot_ms\n    value: 3\n    source: \"\"\n", "MP5806", 5, 13 },
        { "m.yaml", "measurements:\n  - plan: a.moe\n    metric: tpot_ms\n    value: 3\n    source: s\n    perfect_balance: yes\n", "MP5806", 6, 22 },
        { "m.yaml", "measurements:\n  - plan: a.moe\n    metric: tpot_ms\n    value: 3\n    source: s\n    published: { value: 25, devices: 8, unit: ms }\n", "MP5809", 4, 12 },
        { "m.yaml", "measurements:\n  - plan: a.moe\n    metric: tpot_ms\n    value: 3\n    source: s\n    published: { value: 24, devices: 8 }\n", "MP5804", 2, 5 },
        { "m.yaml", "measurements:\n  - plan: a.moe\n    metric: tpot_ms\n    value: 3\n    source: s\n    published: { value: 24, devices: 0, unit: ms }\n", "MP5806", 6, 38 },
        { "m.yaml", "measurements:\n  - plan: a.moe\n    metric: tpot_ms\n    value: 3\n    source: s\n    set: [decode.max_batch]\n", "MP5814", 6, 11 },
        { "m.csv", "plan,metric,value,source\n\"a.moe,tpot_ms,3,s\n", "MP5801", 2, 1 },
        { "m.csv", "plan,metric,value,source\na\"b.moe,tpot_ms,3,s\n", "MP5801", 2, 2 },
        { "m.csv", "plan,metric,value,source\n\"a.moe\"x,tpot_ms,3,s\n", "MP5801", 2, 8 },
        { "m.csv", "plan,metric,value,source\na.moe,tpot_ms,3\n", "MP5812", 2, 1 },
        { "m.csv", "plan,metric,valu,source\na.moe,tpot_ms,3,s\n", "MP5803", 1, 13 },
        { "m.csv", "plan,metric,value,source,plan\na.moe,tpot_ms,3,s,b.moe\n", "MP5802", 1, 26 },
        { "m.csv", "plan,metric,source\na.moe,tpot_ms,s\n", "MP5804", 2, 1 },
        { "m.csv", "plan,metric,value,source\na.moe,ttft,3,s\n", "MP5805", 2, 7 },
        { "m.csv", "", "MP5804", 1, 1 },
    };

    [Theory]
    [MemberData(nameof(Malformed))]
    public void Every_malformed_file_gets_a_located_diagnostic_and_no_measurements(string file, string text, string code, int line, int column)
    {
        var (measurements, diagnostics) = MeasurementReader.Parse(file, text, Resolver);
        Assert.Empty(measurements);
        var first = diagnostics.First(d => d.IsError);
        Assert.True(first.Code == code && first.Span is { } s && s.File == file && s.Line == line && s.Column == column,
            $"expected {code} at ({line},{column}), got {first}");
    }

    [Fact]
    public void A_file_that_cannot_be_read_is_MP5800_at_its_start()
    {
        var (measurements, diagnostics) = MeasurementReader.Read("plans/calibration/no-such.yaml", Resolver);
        Assert.Empty(measurements);
        Assert.Equal("plans/calibration/no-such.yaml(1,1): error MP5800: cannot read the measurements: no such file", Assert.Single(diagnostics).ToString());
    }

    [Fact]
    public void A_suggestion_names_the_metric_meant()
    {
        var (_, diagnostics) = MeasurementReader.Parse("m.yaml", "measurements:\n  - {plan: a.moe, metric: decode.tpot_m, value: 3, source: s}\n", Resolver);
        Assert.Contains("decode.tpot_ms", Assert.Single(diagnostics).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void No_prefix_of_a_valid_file_crashes_the_reader()
    {
        var text = File.ReadAllText(RepositoryPaths.PathOf("plans", "calibration", "published.yaml"));
        for (var length = 0; length <= text.Length; length += 3)
        {
            foreach (var name in new[] { "p.yaml", "p.csv" })
            {
                var (measurements, diagnostics) = MeasurementReader.Parse(name, text[..length], Resolver);
                Assert.True(!measurements.IsEmpty || diagnostics.Any(d => d.IsError && d.Span is not null),
                    $"{name}, {length} characters: neither measurements nor a located error");
            }
        }
    }
}
