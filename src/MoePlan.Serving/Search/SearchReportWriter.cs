using System.Text;
using System.Text.Json;
using MoePlan.Core.Calibration;
using MoePlan.Core.Cost;
using MoePlan.Core.Emit;
using MoePlan.Core.Search;
using MoePlan.Core.Text;

namespace MoePlan.Serving.Search;

/// <summary>A table of the report: its title, column headers, and rows of as many cells as there are columns.</summary>
public sealed record SearchSection(string Title, IReadOnlyList<string> Columns, IReadOnlyList<IReadOnlyList<string>> Rows);

/// <summary>A <see cref="SearchReport"/> as summary lines and tables (which a terminal draws its own way), Markdown and JSON (docs/search.md).</summary>
public static class SearchReportWriter
{
    /// <summary>Frontier points shown in the tables; JSON lists them all.</summary>
    internal const int ShownFrontierPoints = 20;

    /// <summary>The summary lines: the space, counts and speed, the fixed imbalances, frontiers, rejections, confirmation.</summary>
    public static IEnumerable<string> Summary(SearchReport report)
    {
        ArgumentNullException.ThrowIfNull(report);
        var (name, space, r, stats) = (report.Name, report.Space, report.Result, report.Stats);
        yield return $"{name}: searched {stats.Candidates} candidates ({string.Join(", ", space.Varied.Select(v => $"{v.Name} x{v.Values.Distinct().Count()}"))}) " +
                     $"within {space.Cluster.Devices} devices";
        yield return $"{r.Valid} valid (verifier), {r.Evaluated} evaluated, {r.Top.Count} shown meeting the SLOs; " +
                     $"{NumberText.Format(stats.Seconds, "0.###")} s, {NumberText.Format(stats.CandidatesPerSecond, "0")} candidates/s, " +
                     $"{NumberText.Format(stats.EvaluationsPerSecond, "0")} evaluations/s";
        yield return $"placement imbalance fixed at the base plan's for the search: prefill {NumberText.Format(r.PrefillImbalance, "0.000")}, " +
                     $"decode {NumberText.Format(r.DecodeImbalance, "0.000")}; the top candidates are re-placed at their own EP and redundant experts, re-costed and re-ranked";
        yield return $"Pareto frontiers: throughput/TPOT {r.ThroughputTpotFrontier.Count} points, cost/TTFT {r.CostTtftFrontier.Count} points";
        foreach (var rejection in r.Rejections.Take(3))
        {
            yield return $"rejected by {rejection.Code}: {rejection.Candidates} candidates, e.g. {rejection.Example}";
        }

        if (report.Winners.Count > 0 && report.Winners[0].Candidate.Cost.Report is { } first)
        {
            yield return "ranked on the point estimates; the top candidates' figures show their " + CostReportWriter.IntervalLine(first)["intervals: ".Length..];
        }

        if (report.Winners.Count > 0)
        {
            var c = report.Confirming;
            yield return !c.Simulate
                ? "not confirmed by simulation (--no-confirm)"
                : $"confirmed by simulation: each top candidate served the first {c.Requests} requests of the plan's workload (plan's seed), " +
                  $"ranked by {(c.RankBySimulation ? "simulated goodput per rank" : "the re-placed cost model")}; disagreements above " +
                  $"{NumberText.Format(c.Threshold * 100, "0")}% flagged";
        }
    }

    /// <summary>The tables: the winners, their confirmation (when simulated), and the two frontiers (thinned).</summary>
    public static IEnumerable<SearchSection> Sections(SearchReport report)
    {
        ArgumentNullException.ThrowIfNull(report);
        var winners = report.Winners;
        yield return new(report.Confirming.RankBySimulation
                ? "top candidates, ranked by simulated goodput per rank (figures: cost model, own placement)"
                : "top candidates meeting the SLOs, by output tokens/s per rank (figures: cost model, own placement)",
            Columns,
            [.. winners.Select((w, i) => Row(i + 1, w.Candidate.Replaced, Imbalance(w.Candidate.PrefillImbalance, w.Candidate.DecodeImbalance), w.Candidate.Cost.Report))]);
        if (winners.Any(w => w.Simulation is not null))
        {
            yield return new("top candidates confirmed by simulation (TTFT and TPOT: means; model / simulated (difference))", ConfirmationColumns,
                [.. winners.Select((w, i) => ConfirmationRow(i + 1, w.Simulation!, report.Confirming.Threshold))]);
        }

        var r = report.Result;
        var baseImbalance = Imbalance(r.PrefillImbalance, r.DecodeImbalance);
        foreach (var (title, list) in new[]
                 {
                     Thinned("Pareto frontier: output tokens/s per rank up, TPOT down (figures: cost model, base plan's placement imbalance)", r.ThroughputTpotFrontier),
                     Thinned("Pareto frontier: $ per million output tokens down, TTFT down (figures: cost model, base plan's placement imbalance)", r.CostTtftFrontier),
                 })
        {
            yield return new(title, Columns, [.. list.Select((c, i) => Row(i + 1, c, baseImbalance))]);
        }
    }

    /// <summary>At most <see cref="ShownFrontierPoints"/> points spread evenly along the frontier, both ends included.</summary>
    internal static (string Title, IReadOnlyList<SearchCandidate> Points) Thinned(string title, IReadOnlyList<SearchCandidate> frontier)
    {
        if (frontier.Count <= ShownFrontierPoints)
        {
            return (title, frontier);
        }

        var shown = Enumerable.Range(0, ShownFrontierPoints)
            .Select(i => frontier[(int)Math.Round((double)i * (frontier.Count - 1) / (ShownFrontierPoints - 1))])
            .ToList();
        return ($"{title} ({ShownFrontierPoints} of {frontier.Count} points; --format json lists all)", shown);
    }

    public static string Markdown(SearchReport report)
    {
        ArgumentNullException.ThrowIfNull(report);
        var sb = new StringBuilder();
        sb.Append("# Search: ").Append(report.Name).Append("\n\n");
        foreach (var line in Summary(report))
        {
            sb.Append("- ").Append(line).Append('\n');
        }

        foreach (var (title, columns, rows) in Sections(report))
        {
            sb.Append("\n## ").Append(title).Append("\n\n");
            sb.Append("| ").Append(string.Join(" | ", columns)).Append(" |\n");
            sb.Append('|').Append(string.Concat(columns.Select(_ => "---|"))).Append('\n');
            foreach (var row in rows)
            {
                sb.Append("| ").Append(string.Join(" | ", row)).Append(" |\n");
            }
        }

        if (report.Written.Count > 0)
        {
            sb.Append("\nWritten plans: ").Append(string.Join(", ", report.Written.Select(p => $"`{p}`"))).Append('\n');
        }

        return sb.ToString();
    }

    /// <summary>The whole report: every frontier point and rejection; a missing or non-finite figure is null.</summary>
    public static string Json(SearchReport report)
    {
        ArgumentNullException.ThrowIfNull(report);
        return JsonOutput.Write(w => WriteReport(w, report));
    }

    private static void WriteReport(Utf8JsonWriter w, SearchReport report)
    {
        var (space, r, stats) = (report.Space, report.Result, report.Stats);
        w.WriteStartObject();
        w.WriteString("schema", "moeplan/search/v1");
        w.WriteString("plan", report.Name);
        w.WriteStartObject("varied");
        foreach (var v in space.Varied)
        {
            w.WriteNumber(v.Name, v.Values.Distinct().Count());
        }

        w.WriteEndObject();
        w.WriteNumber("cluster_devices", space.Cluster.Devices);
        w.WriteNumber("candidates", stats.Candidates);
        w.WriteNumber("enumerated", r.Enumerated);
        w.WriteNumber("valid", r.Valid);
        w.WriteNumber("evaluated", r.Evaluated);
        w.WriteNumber("seconds", stats.Seconds);
        w.WriteNumber("candidates_per_second", stats.CandidatesPerSecond);
        w.WriteNumber("evaluations_per_second", stats.EvaluationsPerSecond);
        w.WriteStartObject("placement_imbalance");
        w.WriteString("source", "base plan's placement, reused for every candidate of the search; the top candidates are re-placed");
        w.WriteNumber("prefill", r.PrefillImbalance);
        w.WriteNumber("decode", r.DecodeImbalance);
        w.WriteEndObject();
        SearchRejection.WriteJsonArray(w, r.Rejections);
        var c = report.Confirming;
        w.WriteStartObject("confirmation");
        w.WriteBoolean("simulated", c.Simulate);
        w.WriteNumber("requests", c.Requests);
        w.WriteString("rank_by", c.RankBySimulation ? "simulated" : "analytic");
        w.WriteNumber("disagreement_threshold", c.Threshold);
        w.WriteEndObject();
        w.WriteStartArray("top");
        for (var i = 0; i < report.Winners.Count; i++)
        {
            var winner = report.Winners[i];
            w.WriteStartObject();
            WriteCandidate(w, i + 1, winner.Candidate.Replaced);
            w.WriteStartObject("placement");
            w.WriteNumberOrNull("prefill_imbalance", winner.Candidate.PrefillImbalance);
            w.WriteNumberOrNull("decode_imbalance", winner.Candidate.DecodeImbalance);
            w.WriteNumber("searched_output_tokens_per_second_per_rank", winner.Candidate.Searched.OutputTokensPerSecondPerRank);
            w.WriteNumber("searched_ttft_ms", winner.Candidate.Searched.TtftMilliseconds);
            w.WriteNumber("searched_tpot_ms", winner.Candidate.Searched.TpotMilliseconds);
            w.WriteEndObject();
            WriteInterval(w, winner.Candidate.Cost.Report);
            if (winner.Simulation is { } sim)
            {
                WriteSimulation(w, sim, c.Threshold);
            }

            // The winners' plans are written first, in rank order.
            if (i < report.Written.Count)
            {
                w.WriteString("file", report.Written[i]);
            }

            w.WriteEndObject();
        }

        w.WriteEndArray();
        WriteList(w, "frontier_throughput_tpot", r.ThroughputTpotFrontier);
        WriteList(w, "frontier_cost_ttft", r.CostTtftFrontier);
        w.WriteEndObject();
    }

    /// <summary>The winner's headline figures' intervals (its own cost report; docs/cost-model.md, "Stated uncertainty").</summary>
    private static void WriteInterval(Utf8JsonWriter w, CostReport? report)
    {
        w.WriteStartObject("interval");
        w.WriteNumber("coverage", CostIntervals.Coverage);
        w.WriteString("basis", report?.Intervals?.Basis ?? "none");
        if ((report?.Intervals is null ? "not costed" : report.Intervals.Unavailable) is { } unavailable)
        {
            w.WriteString("unavailable", unavailable);
        }
        else
        {
            w.WriteNull("unavailable");
        }

        foreach (var metric in new[] { "prefill.ttft_ms", "decode.tpot_ms", "decode.output_tokens_per_s_per_device" })
        {
            var key = metric[(metric.IndexOf('.', StringComparison.Ordinal) + 1)..];
            var i = report?.Intervals?.Of(metric);
            w.WriteNumberOrNull(key, report is null ? null : CostMetric.Find(metric)!.Of(report.Figures));
            w.WriteNumberOrNull(key + "_low", i?.Low);
            w.WriteNumberOrNull(key + "_high", i?.High);
        }

        w.WriteEndObject();
    }

    private static void WriteSimulation(Utf8JsonWriter w, SimulatedConfirmation sim, double threshold)
    {
        w.WriteStartObject("simulation");
        if (sim.Skipped is not null)
        {
            w.WriteString("skipped", sim.Skipped);
            w.WriteEndObject();
            return;
        }

        w.WriteString("policy", sim.Metrics!.Policy);
        w.WriteNumber("requests", sim.Metrics.Arrived);
        w.WriteNumber("completed", sim.Metrics.Completed);
        foreach (var (name, figure) in new (string, ConfirmedFigure)[]
                 {
                     ("ttft_mean_ms", sim.TtftMilliseconds), ("tpot_mean_ms", sim.TpotMilliseconds),
                     ("output_tokens_per_second_per_rank", sim.OutputTokensPerSecondPerRank), ("goodput_requests_per_second_per_rank", sim.GoodputRequestsPerSecondPerRank),
                 })
        {
            w.WriteStartObject(name);
            w.WriteNumberOrNull("analytic", figure.Analytic);
            w.WriteNumberOrNull("simulated", figure.Simulated);
            w.WriteNumberOrNull("disagreement", figure.Disagreement);
            w.WriteEndObject();
        }

        w.WriteNumberOrNull("ttft_p99_ms", sim.Metrics.TtftMilliseconds.P99);
        w.WriteNumberOrNull("tpot_p99_ms", sim.Metrics.TpotMilliseconds.P99);
        w.WriteNumberOrNull("slo_attainment", sim.SloAttainment);
        w.WriteBoolean("meets_slos", sim.SimulatedMeetsSlos);
        w.WriteStringArray("disagreements", sim.Disagreements(threshold));
        w.WriteEndObject();
    }

    private static void WriteList(Utf8JsonWriter w, string name, IReadOnlyList<SearchCandidate> list)
    {
        w.WriteStartArray(name);
        for (var i = 0; i < list.Count; i++)
        {
            w.WriteStartObject();
            WriteCandidate(w, i + 1, list[i]);
            w.WriteEndObject();
        }

        w.WriteEndArray();
    }

    private static void WritePool(Utf8JsonWriter w, string name, int instances, int dp, int tp, int ep, (string Name, int Value) batch, bool? mtp, bool overlap)
    {
        w.WriteStartObject(name);
        w.WriteNumber("instances", instances);
        w.WriteNumber("dp", dp);
        w.WriteNumber("tp", tp);
        w.WriteNumber("ep", ep);
        w.WriteNumber(batch.Name, batch.Value);
        if (mtp is { } on)
        {
            w.WriteBoolean("mtp", on);
        }

        w.WriteBoolean("overlap", overlap);
        w.WriteEndObject();
    }

    private static void WriteCandidate(Utf8JsonWriter w, int rank, SearchCandidate c)
    {
        var s = c.Settings;
        w.WriteNumber("rank", rank);
        w.WriteNumber("index", c.Index);
        // Aggregated: one serve pool of the decode shape, whose chunked-prefill budget is prefill.max_batch_tokens.
        w.WriteString("mode", s.Aggregated ? "aggregated" : "disaggregated");
        WritePool(w, "prefill", s.PrefillInstances, s.PrefillDataParallel, s.PrefillTensorParallel, s.PrefillExpertParallel, ("max_batch_tokens", s.PrefillMaxBatchTokens), null, s.PrefillOverlap);
        WritePool(w, "decode", s.DecodeInstances, s.DecodeDataParallel, s.DecodeTensorParallel, s.DecodeExpertParallel, ("max_batch", s.DecodeMaxBatch), s.DecodeMtp, s.DecodeOverlap);
        w.WriteNumber("redundant_experts", s.RedundantExperts);
        w.WriteStartObject("proxy");
        w.WriteString("mode", s.ProxyParallel ? "parallel" : "sequential");
        w.WriteString("policy", s.ProxyPolicyName);
        w.WriteEndObject();
        w.WriteNumber("devices", c.Devices);
        w.WriteNumber("ranks", c.Ranks);
        w.WriteNumber("output_tokens_per_second_per_rank", c.OutputTokensPerSecondPerRank);
        w.WriteNumber("ttft_ms", c.TtftMilliseconds);
        w.WriteNumber("tpot_ms", c.TpotMilliseconds);
        w.WriteNumberOrNull("usd_per_million_output_tokens", c.UsdPerMillionOutputTokens);

        w.WriteNumber("goodput_requests_per_second", c.Report.GoodputRequestsPerSecond);
        w.WriteBoolean("meets_slos", c.MeetsSlos);
    }

    private static string Parallel(int instances, int dp, int tp, int ep) => $"{instances} x dp{dp} tp{tp} ep{ep}";

    private static string OnOff(bool value) => value ? "on" : "off";

    private static string Imbalance(double prefill, double decode) =>
        double.IsFinite(prefill) ? $"{NumberText.Format(prefill, "0.000")}/{NumberText.Format(decode, "0.000")}" : "-";

    private static readonly string[] Columns =
        ["#", "prefill", "batch tok", "ovl", "decode", "batch", "mtp", "ovl", "redundant", "proxy", "devices", "imbalance p/d", "tok/s/rank", "TTFT ms", "TPOT ms", "$/M out", "SLOs"];

    /// <param name="costed">The winner's own cost report: its figures carry their intervals (docs/cost-model.md, "Stated uncertainty").</param>
    private static string[] Row(int rank, SearchCandidate c, string imbalance, CostReport? costed = null)
    {
        var s = c.Settings;
        return
        [
            NumberText.Whole(rank),
            // Aggregated: the decode columns are the serve pool, "batch tok" its chunked-prefill budget.
            s.Aggregated ? "aggregated (serve)" : Parallel(s.PrefillInstances, s.PrefillDataParallel, s.PrefillTensorParallel, s.PrefillExpertParallel),
            NumberText.Whole(s.PrefillMaxBatchTokens), OnOff(s.PrefillOverlap),
            Parallel(s.DecodeInstances, s.DecodeDataParallel, s.DecodeTensorParallel, s.DecodeExpertParallel),
            NumberText.Whole(s.DecodeMaxBatch), OnOff(s.DecodeMtp), OnOff(s.DecodeOverlap),
            NumberText.Whole(s.RedundantExperts), Proxy(s), NumberText.Whole(c.Devices), imbalance,
            Bounded(c.OutputTokensPerSecondPerRank, costed, "decode.output_tokens_per_s_per_device"), Bounded(c.TtftMilliseconds, costed, "prefill.ttft_ms"),
            Bounded(c.TpotMilliseconds, costed, "decode.tpot_ms"),
            NumberText.CompactOrDash(c.UsdPerMillionOutputTokens), c.MeetsSlos ? "met" : "missed",
        ];
    }

    /// <summary>The figure, with the interval of <paramref name="metric"/> in <paramref name="costed"/> scaled to it (a figure per
    /// rank of the whole deployment takes the decode figure's relative interval).</summary>
    private static string Bounded(double value, CostReport? costed, string metric)
    {
        if (costed?.Intervals?.Of(metric) is not { } i || !double.IsFinite(value))
        {
            return NumberText.CompactOrDash(value);
        }

        var point = CostMetric.Find(metric)!.Of(costed.Figures);
        if (!(point > 0))
        {
            return NumberText.CompactOrDash(value);
        }

        return $"{NumberText.Compact(value)} ({NumberText.Compact(value * i.Low / point)}-{NumberText.Compact(value * i.High / point)})";
    }

    private static string Proxy(CandidateSettings s) => $"{(s.Aggregated ? "aggregated" : s.ProxyParallel ? "parallel" : "sequential")} {s.ProxyPolicyName}";

    private static readonly string[] ConfirmationColumns =
        ["#", "proxy", "TTFT mean ms model / sim", "TPOT mean ms model / sim", "tok/s/rank model / sim", "goodput req/s/rank model / sim", "SLO attainment", "SLOs (sim)", "disagree"];

    /// <summary>"model / simulated (+x%)": the signed relative difference of the simulation from the model.</summary>
    private static string Pair(ConfirmedFigure f) =>
        $"{NumberText.CompactOrDash(f.Analytic)} / {NumberText.CompactOrDash(f.Simulated)}" + (double.IsFinite(f.Disagreement)
            ? $" ({(f.Simulated >= f.Analytic ? "+" : "-")}{NumberText.Format(f.Disagreement * 100, "0")}%)"
            : "");

    private static string[] ConfirmationRow(int rank, SimulatedConfirmation c, double threshold)
    {
        if (c.Skipped is not null)
        {
            return [NumberText.Whole(rank), Proxy(c.Candidate.Replaced.Settings), "not simulated: " + c.Skipped, "", "", "", "", "", ""];
        }

        var flagged = c.Disagreements(threshold);
        return
        [
            NumberText.Whole(rank), Proxy(c.Candidate.Replaced.Settings), Pair(c.TtftMilliseconds), Pair(c.TpotMilliseconds),
            Pair(c.OutputTokensPerSecondPerRank), Pair(c.GoodputRequestsPerSecondPerRank),
            NumberText.Format(c.SloAttainment * 100, "0.0") + "%", c.SimulatedMeetsSlos ? "met" : "missed",
            flagged.Count == 0 ? "-" : "! " + string.Join(", ", flagged),
        ];
    }
}
