using System.Collections.Immutable;
using System.Globalization;
using System.Text;
using MoePlan.Core.Calibration;
using MoePlan.Core.Cost;
using MoePlan.Core.Editing;
using MoePlan.Core.Text;
using MoePlan.Tests.Support;
using Xunit;

namespace MoePlan.Core.Tests.Cost;

/// <summary>
/// How far off the cost model is on a published setup it was not fitted to: for each published case, the family's free
/// factors are fitted (<see cref="FactorFit"/>) on the other cases and the case is predicted. Cases that measure the same
/// step of the same plan (DeepSeek's prefill with and without cache hits: one figure, 73.7k x (1 - 0.563) = 32.2k) are
/// left out together, or the one kept would pin the other. The table in docs/cost-model.md is this test's output, with
/// the latency-optimised points that could be sourced (regenerate with MOEPLAN_ACCEPT_BASELINES=1).
/// </summary>
public sealed class LeaveOneOutTests
{
    /// <summary>The done-when of issue #15: every case within 10% when left out.</summary>
    public const double Tolerance = 0.10;

    private sealed record Row(CalibrationCase Case, double FittedError, double LeftOutPredicted)
    {
        public double LeftOutError => (LeftOutPredicted / Case.Measurement.Measurement.Value) - 1;
    }

    /// <summary>A published latency-optimised point: the metric's published range, and whether the model can cost it.</summary>
    private sealed record LatencyPoint(string Name, string Plan, string Metric, double Low, double High, string Unit, string Source, string Note,
        string? LeaveOutWith);

    private static readonly LatencyPoint[] LatencyPoints =
    [
        new("DeepSeek production decode speed, 20-22 tok/s per user", "plans/deepseek-v3-h800.moe", "decode.tpot_ms", 1000.0 / 22, 1000.0 / 20, "TPOT ms",
            "deepseek-ai/open-infra-index, 202502OpenSourceWeek day 6",
            "not fitted on, but the same day-6 facts as the decode row (the plan's batch 88 per GPU is 1,850 tok/s / 21 tok/s): left out with it",
            "DeepSeek production decode"),
    ];

    private static readonly Lazy<ImmutableArray<Row>> Rows = new(() =>
    {
        var cases = CalibrationCase.All;
        var prepared = cases.Select(c => c.Measurement).ToArray();
        var all = FactorFit.Fit(prepared);
        var rows = ImmutableArray.CreateBuilder<Row>(cases.Count);
        var fits = new Dictionary<string, EfficiencyFactors>(StringComparer.Ordinal);
        for (var i = 0; i < cases.Count; i++)
        {
            var key = StepOf(prepared[i]);
            if (!fits.TryGetValue(key, out var leftOut))
            {
                leftOut = FactorFit.Fit(prepared.Where(p => StepOf(p) != key).ToArray()).Factors;
                fits[key] = leftOut;
            }

            rows.Add(new Row(cases[i], all.Residuals[i].Error, prepared[i].Predict(leftOut)));
        }

        return rows.MoveToImmutable();
    });

    /// <summary>Cases with the same plan, phase, balance and overrides measure one step: they are left out together.</summary>
    private static string StepOf(PreparedMeasurement c) =>
        string.Join('|', c.Measurement.Plan, c.Measurement.Metric.Regime, c.Measurement.PerfectBalance, string.Join(';', c.Measurement.Overrides));

    [Fact]
    public void Every_published_case_left_out_of_the_fit_is_predicted_within_10_percent()
    {
        foreach (var r in Rows.Value)
        {
            Assert.True(Math.Abs(r.LeftOutError) <= Tolerance,
                $"{r.Case.Name}: left out, predicted {r.LeftOutPredicted:0} against {r.Case.Measurement.Measurement.Value:0} ({r.LeftOutError:+0.0%;-0.0%})");
        }
    }

    [Fact]
    public void The_sourced_latency_points_are_predicted_within_10_percent_of_their_published_range()
    {
        foreach (var p in LatencyPoints)
        {
            var (_, leftOut) = Predict(p);
            var error = RangeError(leftOut, p.Low, p.High);
            Assert.True(Math.Abs(error) <= Tolerance, $"{p.Name}: predicted {leftOut:0.0} {p.Unit}, published {p.Low:0.0}-{p.High:0.0} ({error:+0.0%;-0.0%})");
        }
    }

    /// <summary>
    /// docs/cost-model.md, "The assumption this rests on": DeepSeek's prefill is explained by its prompts' spread (long
    /// prompts attend further); with every prompt at the mean length instead, the same factors over-predict it by ~38%.
    /// </summary>
    [Fact]
    public void Without_the_prompt_spread_DeepSeek_prefill_would_be_over_predicted_by_about_38_percent()
    {
        var published = CalibrationCase.All.Single(c => c.Name == "DeepSeek production prefill, excluding cache hits").Measurement;
        var measurement = published.Measurement with { Overrides = PlanOverrides.Parse(["workload.input=fixed 4539"]).Overrides };
        var (prepared, diagnostics) = MeasurementSet.Prepare([measurement], MemorySourceResolver.FromRepository(CalibrationCase.File));
        Assert.True(diagnostics.IsEmpty, string.Join("; ", diagnostics));
        Assert.InRange(prepared[0].Error(EfficiencyFactors.Hopper), 0.35, 0.41);
        Assert.InRange(Math.Abs(published.Error(EfficiencyFactors.Hopper)), 0, 0.05);
    }

    [Fact]
    public void Docs_table_is_generated_from_the_leave_one_out()
    {
        var table = new StringBuilder();
        var worst = Rows.Value.Max(r => Math.Abs(r.LeftOutError));
        table.Append(CultureInfo.InvariantCulture,
            $"Largest error fitted on all cases {Percent(Rows.Value.Max(r => Math.Abs(r.FittedError)))}; left out {Percent(worst)}.\n\n");
        table.Append("| case | metric | published | fitted on all: error | left out: predicted | left out: error | source |\n|---|---|---|---|---|---|---|\n");
        foreach (var r in Rows.Value)
        {
            var scale = r.Case.Published / r.Case.Measurement.Measurement.Value;
            table.Append(CultureInfo.InvariantCulture,
                $"| {r.Case.Name} | {r.Case.Metric} | {r.Case.Published:N0} | {Percent(r.FittedError)} | {r.LeftOutPredicted * scale:N0} | {Percent(r.LeftOutError)} | {r.Case.Source} |\n");
        }

        table.Append("\nLatency-optimised points (not fitted on; the error is the distance from the published range):\n\n");
        table.Append("| point | plan | metric | published | fitted on all: predicted | left out: predicted | left out: error | source | note |\n|---|---|---|---|---|---|---|---|---|\n");
        foreach (var p in LatencyPoints)
        {
            var (fitted, leftOut) = Predict(p);
            table.Append(CultureInfo.InvariantCulture,
                $"| {p.Name} | `{p.Plan}` | {p.Unit} | {p.Low:0.0}-{p.High:0.0} | {fitted:0.0} | {leftOut:0.0} | {Percent(RangeError(leftOut, p.Low, p.High))} | {p.Source} | {p.Note} |\n");
        }

        foreach (var (name, source, why) in NotCosted)
        {
            table.Append(CultureInfo.InvariantCulture, $"| {name} | - | - | - | not costed | not costed | - | {source} | {why} |\n");
        }

        const string Begin = "<!-- leave-one-out-table:begin -->\n";
        const string End = "<!-- leave-one-out-table:end -->";
        var path = RepositoryPaths.PathOf("docs", "cost-model.md");
        var doc = File.ReadAllText(path).Replace("\r\n", "\n", StringComparison.Ordinal);
        var start = doc.IndexOf(Begin, StringComparison.Ordinal);
        var end = doc.IndexOf(End, StringComparison.Ordinal);
        Assert.True(start >= 0 && end > start, "docs/cost-model.md lacks the leave-one-out-table markers");
        var expected = doc[..(start + Begin.Length)] + table + doc[end..];
        if (Environment.GetEnvironmentVariable("MOEPLAN_ACCEPT_BASELINES") == "1")
        {
            File.WriteAllText(path, expected);
            doc = expected;
        }

        Assert.Equal(expected, doc);
    }

    /// <summary>Published latency-optimised results the model cannot cost, and why (figures.md).</summary>
    private static readonly (string Name, string Source, string Why)[] NotCosted =
    [
        ("Omni-Infer: 608 QPM at TTFT < 2 s, TPOT < 50 ms, DeepSeek-R1 on an Atlas 900 A3 SuperPoD (7 prefill nodes of 8 + 1 decode of 32)",
            "[2nd], figures.md", "the request lengths, prefix share and SLO statistic are not published: a QPM cannot be costed without them"),
        ("OmniInfer: 616 QPM, DeepSeek-R1 on 10 nodes of Ascend 910C", "OmniInfer paper (arXiv 2511.22481), figures.md",
            "no request lengths, deployment split or latency target published"),
    ];

    /// <summary>The point predicted with the factors fitted on every case, and with those fitted without the case it shares its facts with.</summary>
    private static (double Fitted, double LeftOut) Predict(LatencyPoint p)
    {
        var resolver = MemorySourceResolver.FromRepository(p.Plan, "plans/common/slo.moe");
        var measurement = new Measurement(p.Name, p.Plan, CostMetric.Find(p.Metric)!, (p.Low + p.High) / 2, p.Source, false, [], null,
            new SourceSpan("latency-points.yaml", 0, 0, 1, 1));
        var (prepared, diagnostics) = MeasurementSet.Prepare([measurement], resolver);
        Assert.True(diagnostics.IsEmpty, string.Join("; ", diagnostics));
        var cases = CalibrationCase.All.Select(c => c.Measurement).ToArray();
        var all = FactorFit.Fit(cases).Factors;
        var without = p.LeaveOutWith is null ? all : FactorFit.Fit(cases.Where(c => c.Measurement.Name != p.LeaveOutWith).ToArray()).Factors;
        return (prepared[0].Predict(all), prepared[0].Predict(without));
    }

    /// <summary>0 inside [low, high], else the relative distance to the nearer end.</summary>
    private static double RangeError(double value, double low, double high) =>
        value < low ? (value / low) - 1 : value > high ? (value / high) - 1 : 0;

    private static string Percent(double e)
    {
        var rounded = Math.Round(e, 3);
        return (rounded == 0 ? 0 : rounded).ToString("+0.0%;-0.0%", CultureInfo.InvariantCulture);
    }
}
