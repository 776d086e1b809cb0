using System.Text.Json;
using MoePlan.Core.Search;
using MoePlan.Serving.Search;

namespace MoePlan.Serving.Tests.Search;

/// <summary>The search report as tables, Markdown and JSON.</summary>
public sealed class SearchReportWriterTests
{
    /// <summary>The cells of a Markdown table line "| a | b |".</summary>
    private static string[] Cells(string line) => line.Trim().Trim('|').Split('|').Select(c => c.Trim()).ToArray();

    [Theory]
    [InlineData(true, 4)]
    [InlineData(false, 3)]
    public void Markdown_has_one_table_per_section_with_as_many_cells_in_each_row_as_header_columns(bool simulate, int tables)
    {
        // Winners, their confirmation when simulated, two frontiers.
        var report = simulate ? SearchRunTests.AnalyticReport : SearchRunTests.Search(Confirming.Default with { Simulate = false });
        var lines = SearchReportWriter.Markdown(report).Split('\n');
        Assert.Equal("# Search: deepseek-v3-h800", lines[0]);
        var headings = lines.Select((l, i) => (l, i)).Where(x => x.l.StartsWith("## ", StringComparison.Ordinal)).ToList();
        Assert.Equal(tables, headings.Count);
        Assert.Equal(tables, SearchReportWriter.Sections(report).Count());
        foreach (var (heading, at) in headings)
        {
            // "## title", a blank line, the header, the separator, then rows up to a blank line.
            Assert.Equal("", lines[at + 1]);
            var columns = Cells(lines[at + 2]).Length;
            Assert.Equal(Enumerable.Repeat("---", columns), Cells(lines[at + 3]));
            var rows = lines.Skip(at + 4).TakeWhile(l => l.StartsWith('|')).ToList();
            Assert.NotEmpty(rows);
            Assert.All(rows, r => Assert.Equal(columns, Cells(r).Length));
        }

        // The winners' table has one row per winner, ranked 1, 2, 3.
        var top = lines.Skip(headings[0].i + 4).TakeWhile(l => l.StartsWith('|')).Select(r => Cells(r)[0]);
        Assert.Equal(["1", "2", "3"], top);
    }

    [Fact]
    public void Json_has_the_documented_keys()
    {
        using var doc = JsonDocument.Parse(SearchReportWriter.Json(SearchRunTests.AnalyticReport));
        var root = doc.RootElement;
        Assert.Equal(
            [
                "schema", "plan", "varied", "cluster_devices", "candidates", "enumerated", "valid", "evaluated", "seconds", "candidates_per_second", "evaluations_per_second",
                "placement_imbalance", "rejections", "confirmation", "top", "frontier_throughput_tpot", "frontier_cost_ttft",
            ],
            root.EnumerateObject().Select(p => p.Name));
        Assert.Equal(96, root.GetProperty("candidates").GetInt64());
        Assert.Equal(2, root.GetProperty("varied").GetProperty("decode.dp").GetInt32());
        Assert.Equal(["simulated", "requests", "rank_by", "disagreement_threshold"], root.GetProperty("confirmation").EnumerateObject().Select(p => p.Name));
        var top = root.GetProperty("top").EnumerateArray().ToList();
        Assert.Equal(3, top.Count);
        Assert.Equal(
            [
                "rank", "index", "mode", "prefill", "decode", "redundant_experts", "proxy", "devices", "ranks", "output_tokens_per_second_per_rank", "ttft_ms", "tpot_ms",
                "usd_per_million_output_tokens", "goodput_requests_per_second", "meets_slos", "placement", "interval", "simulation",
            ],
            top[0].EnumerateObject().Select(p => p.Name));
        Assert.Equal(
            ["policy", "requests", "completed", "ttft_mean_ms", "tpot_mean_ms", "output_tokens_per_second_per_rank", "goodput_requests_per_second_per_rank",
                "ttft_p99_ms", "tpot_p99_ms", "slo_attainment", "meets_slos", "disagreements"],
            top[0].GetProperty("simulation").EnumerateObject().Select(p => p.Name));
        Assert.Equal(["analytic", "simulated", "disagreement"], top[0].GetProperty("simulation").GetProperty("tpot_mean_ms").EnumerateObject().Select(p => p.Name));
        Assert.Equal(["instances", "dp", "tp", "ep", "max_batch", "mtp", "overlap"], top[0].GetProperty("decode").EnumerateObject().Select(p => p.Name));
        Assert.Equal(["instances", "dp", "tp", "ep", "max_batch_tokens", "overlap"], top[0].GetProperty("prefill").EnumerateObject().Select(p => p.Name));
        // The winner's interval brackets its own figure (a Hopper plan: the published cases bound it).
        var interval = top[0].GetProperty("interval");
        Assert.Equal(JsonValueKind.Null, interval.GetProperty("unavailable").ValueKind);
        foreach (var figure in new[] { "ttft_ms", "tpot_ms", "output_tokens_per_s_per_device" })
        {
            var value = interval.GetProperty(figure).GetDouble();
            Assert.InRange(value, interval.GetProperty(figure + "_low").GetDouble(), interval.GetProperty(figure + "_high").GetDouble());
            Assert.True(interval.GetProperty(figure + "_high").GetDouble() > interval.GetProperty(figure + "_low").GetDouble());
        }

        // No file key without written plans; with them, the i-th winner names the i-th file.
        Assert.False(top[0].TryGetProperty("file", out _));
        var written = SearchRunTests.AnalyticReport with { Written = ["a.moe", "b.moe", "c.moe", "frontier.png"] };
        using var withFiles = JsonDocument.Parse(SearchReportWriter.Json(written));
        Assert.Equal(["a.moe", "b.moe", "c.moe"], withFiles.RootElement.GetProperty("top").EnumerateArray().Select(t => t.GetProperty("file").GetString()));
    }

    [Fact]
    public void A_non_finite_figure_is_null_in_json_and_a_dash_in_the_tables()
    {
        var report = SearchRunTests.AnalyticReport;
        var first = report.Winners[0];
        var sim = first.Simulation! with
        {
            TtftMilliseconds = new ConfirmedFigure(double.NaN, 150),
            TpotMilliseconds = new ConfirmedFigure(240, double.PositiveInfinity),
            SloAttainment = double.NaN,
        };
        var odd = report with { Winners = [first with { Simulation = sim }, .. report.Winners.Skip(1)] };

        using var doc = JsonDocument.Parse(SearchReportWriter.Json(odd));
        var json = doc.RootElement.GetProperty("top")[0].GetProperty("simulation");
        var ttft = json.GetProperty("ttft_mean_ms");
        Assert.Equal(JsonValueKind.Null, ttft.GetProperty("analytic").ValueKind);
        Assert.Equal(150, ttft.GetProperty("simulated").GetDouble());
        Assert.Equal(JsonValueKind.Null, ttft.GetProperty("disagreement").ValueKind);
        var tpot = json.GetProperty("tpot_mean_ms");
        Assert.Equal(240, tpot.GetProperty("analytic").GetDouble());
        Assert.Equal(JsonValueKind.Null, tpot.GetProperty("simulated").ValueKind);
        Assert.Equal(JsonValueKind.Null, json.GetProperty("slo_attainment").ValueKind);

        // Confirmation row: "model / simulated" (figures of 100 and more without decimals), no difference where either is missing.
        var row = SearchReportWriter.Sections(odd).ElementAt(1).Rows[0];
        Assert.Equal("- / 150", row[2]);
        Assert.Equal("240 / -", row[3]);
    }

    [Fact]
    public void The_summary_says_what_was_searched_and_how_it_was_confirmed()
    {
        var summary = SearchReportWriter.Summary(SearchRunTests.AnalyticReport).ToList();
        Assert.StartsWith("deepseek-v3-h800: searched 96 candidates (", summary[0], StringComparison.Ordinal);
        Assert.Contains("decode.dp x2", summary[0], StringComparison.Ordinal);
        Assert.EndsWith("within 64 devices", summary[0], StringComparison.Ordinal);
        Assert.Equal(
            "confirmed by simulation: each top candidate served the first 200 requests of the plan's workload (plan's seed), " +
            "ranked by the re-placed cost model; disagreements above 25% flagged",
            summary[^1]);
    }

    [Fact]
    public void A_long_frontier_is_thinned_to_twenty_points_spread_along_it_with_both_ends()
    {
        var one = SearchRunTests.AnalyticReport.Result.ThroughputTpotFrontier[0];
        var frontier = Enumerable.Range(0, 45).Select(i => one with { Index = i }).ToList();
        var (title, points) = SearchReportWriter.Thinned("frontier", frontier);
        Assert.Equal("frontier (20 of 45 points; --format json lists all)", title);
        // Point k of 20 is the one nearest k x 44 / 19 along the 45: 0, 2, 5, 7, 9, ... 44.
        var indices = points.Select(p => p.Index).ToList();
        Assert.Equal(20, indices.Count);
        Assert.Equal([0, 2, 5, 7, 9], indices.Take(5));
        Assert.Equal(44, indices[^1]);
        Assert.Equal(indices.Order(), indices);
        Assert.Equal(20, indices.Distinct().Count());

        var few = frontier.Take(20).ToList();
        var (fewTitle, fewPoints) = SearchReportWriter.Thinned("frontier", few);
        Assert.Equal("frontier", fewTitle);
        Assert.Same(few, fewPoints);
    }
}
