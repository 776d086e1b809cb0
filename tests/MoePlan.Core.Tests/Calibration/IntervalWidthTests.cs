using System.Globalization;
using System.Text;
using MoePlan.Core.Calibration;
using MoePlan.Core.Compilation;
using MoePlan.Core.Cost;
using MoePlan.Core.Editing;
using MoePlan.Core.Tests.Cost;
using MoePlan.Core.Text;
using MoePlan.Tests.Support;
using Xunit;

namespace MoePlan.Core.Tests.Calibration;

/// <summary>The intervals of plans near and far from the calibration cases (docs/cost-model.md, "Stated uncertainty").</summary>
public sealed class IntervalWidthTests
{
    private static readonly int[] Batches = [1, 4, 16, 32, 64, 88];

    private static (double Point, FigureInterval Interval) DeepSeekDecode(int batch, string metric)
    {
        var measurement = new Measurement($"batch {batch}", "plans/deepseek-v3-h800.moe", CostMetric.Find(metric)!, 1, "test", false,
            PlanOverrides.Parse([$"decode.max_batch={batch.ToString(CultureInfo.InvariantCulture)}"]).Overrides, null, new SourceSpan("test", 0, 0, 1, 1));
        var (prepared, diagnostics) = MeasurementSet.Prepare([measurement], MemorySourceResolver.FromRepository("plans/deepseek-v3-h800.moe", "plans/common/slo.moe"));
        Assert.True(diagnostics.IsEmpty, string.Join("; ", diagnostics));
        var c = prepared[0];
        var point = new CostEvaluator().Evaluate(c.Plan, c.Options);
        var intervals = PredictionInterval.Of(c.Plan, c.Options, point);
        Assert.Null(intervals.Unavailable);
        return (c.Measurement.Metric.Of(point), intervals.Of(metric)!.Value);
    }

    private static double RelativeWidth((double Point, FigureInterval Interval) x) => (x.Interval.High - x.Interval.Low) / x.Point;

    /// <summary>
    /// Every published case decodes at 88-256 sequences per GPU, where a step is mostly GEMM and attention work the cases
    /// pin down; at one sequence the step is the floors (kernel gaps, all-to-all latency, weight reads), which the cases
    /// trade against each other: the interval must be several times wider there, and its low side the wide one (a
    /// shorter kernel gap, which the cases cannot rule out, makes a floor-bound step faster).
    /// </summary>
    [Fact]
    public void Decode_far_below_the_cases_batch_has_a_much_wider_interval()
    {
        var atCases = DeepSeekDecode(88, "decode.tpot_ms");
        var atOne = DeepSeekDecode(1, "decode.tpot_ms");
        Assert.True(RelativeWidth(atOne) > 5 * RelativeWidth(atCases), $"batch 1 {RelativeWidth(atOne):0.000}, batch 88 {RelativeWidth(atCases):0.000}");
        Assert.True(atOne.Point - atOne.Interval.Low > 3 * (atOne.Interval.High - atOne.Point));
        Assert.InRange(atCases.Point, atCases.Interval.Low, atCases.Interval.High);
    }

    [Theory]
    [InlineData("plans/deepseek-r1-b200-nvfp4.moe", "Blackwell")]
    [InlineData("plans/deepseek-r1-cloudmatrix384.moe", "Ascend")]
    public void A_family_that_borrows_its_factors_gets_no_interval_and_says_why(string plan, string family)
    {
        var result = PlanCompiler.Compile(plan, MemorySourceResolver.FromRepository(plan, "plans/common/slo.moe"));
        var intervals = result.Cost!.Report!.Intervals!;
        Assert.Empty(intervals.Intervals);
        Assert.Contains($"no calibration case on {family}", intervals.Unavailable, StringComparison.Ordinal);
    }

    [Fact]
    public void Indistinguishable_factor_sets_round_trip_through_the_profile()
    {
        var published = PublishedProfiles.For("Hopper")!;
        Assert.NotEmpty(published.Indistinguishable);
        var (read, diagnostics) = CalibrationProfileReader.Parse("p.yaml", CalibrationProfileWriter.Yaml(published));
        Assert.Empty(diagnostics);
        static double[][] Values(CalibrationProfile p) => [.. p.Indistinguishable.Select(f => FreeFactor.All.Select(x => x.Get(f)).ToArray())];
        Assert.Equal(Values(published), Values(read!));
    }

    [Fact]
    public void A_bad_indistinguishable_entry_is_located()
    {
        var text = CalibrationProfileWriter.Yaml(PublishedProfiles.For("Hopper")!);
        var start = text.IndexOf("indistinguishable:\n", StringComparison.Ordinal) + "indistinguishable:\n".Length;
        var end = text.IndexOf('\n', start);
        var line = text[..start].Count(c => c == '\n') + 1;
        var broken = text[..start] + "  - { gemm_efficiency: 2, colour: 1 }" + text[end..];
        var (profile, diagnostics) = CalibrationProfileReader.Parse("p.yaml", broken);
        Assert.Null(profile);
        Assert.Contains(diagnostics, d => d.Code == "MP5824" && d.Span?.Line == line && d.Message.Contains("gemm_efficiency", StringComparison.Ordinal));
        Assert.Contains(diagnostics, d => d.Code == "MP5822" && d.Span?.Line == line && d.Message.Contains("colour", StringComparison.Ordinal));
        Assert.Contains(diagnostics, d => d.Code == "MP5823" && d.Span?.Line == line && d.Message.Contains("kernel_gap_us", StringComparison.Ordinal));
    }

    /// <summary>The embedded profile is what `moeplan calibrate plans/calibration/published.yaml --cross-validate` writes today.</summary>
    [Fact]
    public void The_embedded_published_profile_is_the_calibration_of_the_published_cases()
    {
        var profile = CalibrationProfile.Calibrate(CalibrationCase.Measurements, [CalibrationCase.File], crossValidate: true);
        var path = RepositoryPaths.PathOf("src", "MoePlan.Core", "Calibration", "Data", "hopper.profile.yaml");
        var expected = CalibrationProfileWriter.Yaml(profile);
        if (Environment.GetEnvironmentVariable("MOEPLAN_ACCEPT_BASELINES") == "1")
        {
            File.WriteAllText(path, expected);
        }

        Assert.Equal(expected, File.ReadAllText(path).Replace("\r\n", "\n", StringComparison.Ordinal));
    }

    [Fact]
    public void Docs_table_is_the_interval_against_decode_batch()
    {
        var s = new StringBuilder("| batch per GPU | TPOT ms (80% interval) | relative width | output tok/s per GPU (80% interval) |\n|---|---|---|---|\n");
        foreach (var b in Batches)
        {
            var tpot = DeepSeekDecode(b, "decode.tpot_ms");
            var tput = DeepSeekDecode(b, "decode.output_tokens_per_s_per_device");
            s.Append(CultureInfo.InvariantCulture,
                $"| {b} | {tpot.Point:0.0} ({tpot.Interval.Low:0.0}-{tpot.Interval.High:0.0}) | {RelativeWidth(tpot):0%} | {tput.Point:N0} ({tput.Interval.Low:N0}-{tput.Interval.High:N0}) |\n");
        }

        GeneratedDocSection.AssertCurrent("docs/cost-model.md", "interval-batch-table", s.ToString());
    }
}
