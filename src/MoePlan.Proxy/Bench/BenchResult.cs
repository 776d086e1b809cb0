using System.Globalization;
using System.Text.Json;
using MoePlan.Core.Emit;
using MoePlan.Core.Plan;
using MoePlan.Serving.Reports;
using MoePlan.Serving.Simulation;

namespace MoePlan.Proxy.Bench;

/// <summary>
/// What a bench measured, and its two documents: <c>moeplan run --format json</c>'s metrics shape (times scaled back to
/// the trace's clock by the speed factor, so a bench at speed X against engines at speed X compares with the
/// simulation) and the result file of vLLM's <c>bench serve</c> (<c>--save-result</c>; its keys, seconds and ms as
/// vLLM writes them, in wall time).
/// </summary>
public sealed class BenchResult(Uri url, string model, double speed, IReadOnlyList<BenchRecord> records, double wallSeconds)
{
    public Uri Url => url;

    public string Model => model;

    public double Speed => speed;

    public IReadOnlyList<BenchRecord> Records => records;

    /// <summary>Wall seconds from the first send to the last request's end.</summary>
    public double WallSeconds => wallSeconds;

    public int Completed => records.Count(r => r.Completed);

    public int Failed => records.Count - Completed;

    /// <summary>
    /// The figures as <c>moeplan run</c> reports them, on the trace's clock (wall time x speed): TTFT, TPOT and E2E of
    /// completed requests, rates over first send to last end, goodput of completed requests meeting both SLOs
    /// (strictly or inclusively as the plan says; no SLO: all), the APC hit rate from the servers' usage
    /// (<c>prompt_tokens_details.cached_tokens</c>). Failed requests are counted as the run's rejected ones.
    /// </summary>
    public ServingMetrics Metrics(SloTarget? ttftSlo, SloTarget? tpotSlo)
    {
        var ttft = new LatencyDistribution();
        var tpot = new LatencyDistribution();
        var e2e = new LatencyDistribution();
        double input = 0, output = 0, cached = 0, good = 0;
        double end = 0;
        foreach (var r in records)
        {
            end = Math.Max(end, r.SentSeconds + r.LatencySeconds);
            if (!r.Completed)
            {
                continue;
            }

            double ttftMs = r.TtftSeconds * 1e3 * speed, e2eMs = r.LatencySeconds * 1e3 * speed, tpotMs = r.TpotSeconds * 1e3 * speed;
            ttft.Add(ttftMs);
            e2e.Add(e2eMs);
            if (!double.IsNaN(tpotMs))
            {
                tpot.Add(tpotMs);
            }

            input += r.InputTokens;
            output += r.OutputTokens;
            cached += r.CachedTokens;
            if (Meets(ttftSlo, ttftMs) && (double.IsNaN(tpotMs) || Meets(tpotSlo, tpotMs)))
            {
                good++;
            }
        }

        double seconds = end * speed;
        double[] noStages = new double[Enum.GetValues<MoePlan.Scheduling.RequestStage>().Length];
        Array.Fill(noStages, double.NaN);
        return new ServingMetrics("live", records.Count, Completed, Failed, seconds, ttft.Summary(), tpot.Summary(), e2e.Summary(),
            Rate(Completed, seconds), Rate(input, seconds), Rate(output, seconds), Rate(good, seconds), input > 0 ? cached / input : 0, noStages, [], [])
        {
            OutputTokensPerSecondWhileArriving = double.NaN,
        };
    }

    /// <summary><c>moeplan run --format json</c>'s document for this bench: the URL and trace instead of the plan, then the same metrics keys.</summary>
    public string RunShapeJson(string trace, SloTarget? ttftSlo, SloTarget? tpotSlo)
    {
        var m = Metrics(ttftSlo, tpotSlo);
        return JsonOutput.Write(w =>
        {
            w.WriteStartObject();
            w.WriteString("schema", "moeplan/bench/v1");
            w.WriteString("url", url.ToString());
            w.WriteString("trace", trace);
            w.WriteString("model", model);
            w.WriteNumber("speed", speed);
            w.WriteNumber("wall_s", wallSeconds);
            ServingReportJson.WriteMetrics(w, m);
            w.WriteEndObject();
        });
    }

    /// <summary>vLLM <c>bench serve --save-result</c>'s JSON (docs/proxy.md lists the keys written), in wall time.</summary>
    public string VllmResultJson(string trace, DateTimeOffset date, double? requestRate)
    {
        var done = records.Where(r => r.Completed).ToList();
        double duration = records.Count == 0 ? 0 : records.Max(r => r.SentSeconds + r.LatencySeconds);
        return JsonOutput.Write(w =>
        {
            w.WriteStartObject();
            w.WriteString("date", date.ToString("yyyyMMdd-HHmmss", CultureInfo.InvariantCulture));
            w.WriteString("backend", "openai");
            w.WriteNull("label");
            w.WriteString("model_id", model);
            w.WriteString("tokenizer_id", model);
            w.WriteNumber("num_prompts", records.Count);
            if (requestRate is { } rate)
            {
                w.WriteNumber("request_rate", rate);
            }
            else
            {
                w.WriteString("request_rate", "inf");
            }

            w.WriteNumber("burstiness", 1.0);
            w.WriteNull("max_concurrency");
            w.WriteString("dataset_name", "moeplan-trace");
            w.WriteString("dataset_path", trace);
            w.WriteNumber("duration", duration);
            w.WriteNumber("completed", done.Count);
            w.WriteNumber("failed", Failed);
            w.WriteNumber("total_input_tokens", done.Sum(r => (long)r.InputTokens));
            w.WriteNumber("total_output_tokens", done.Sum(r => (long)r.OutputTokens));
            w.WriteNumber("request_throughput", duration > 0 ? done.Count / duration : 0);
            w.WriteNull("request_goodput");
            w.WriteNumber("output_throughput", duration > 0 ? done.Sum(r => (double)r.OutputTokens) / duration : 0);
            w.WriteNumber("total_token_throughput", duration > 0 ? done.Sum(r => (double)r.InputTokens + r.OutputTokens) / duration : 0);
            w.WriteNumberArray("input_lens", records.Select(r => (double)r.InputTokens).ToList());
            w.WriteNumberArray("output_lens", records.Select(r => (double)r.OutputTokens).ToList());
            w.WriteStartArray("ttfts");
            foreach (var r in records)
            {
                w.WriteNumberValue(r.Completed ? r.TtftSeconds : 0);
            }

            w.WriteEndArray();
            w.WriteStartArray("itls");
            foreach (var r in records)
            {
                w.WriteStartArray();
                foreach (double s in r.ItlSeconds)
                {
                    w.WriteNumberValue(s);
                }

                w.WriteEndArray();
            }

            w.WriteEndArray();
            w.WriteNumberArray("start_times", records.Select(r => r.SentSeconds).ToList());
            w.WriteStartArray("errors");
            foreach (var r in records)
            {
                w.WriteStringValue(r.Error ?? "");
            }

            w.WriteEndArray();
            Percentiles(w, "ttft", done.Select(r => r.TtftSeconds * 1e3).ToList());
            Percentiles(w, "tpot", done.Where(r => r.OutputTokens > 1).Select(r => r.TpotSeconds * 1e3).ToList());
            Percentiles(w, "itl", done.SelectMany(r => r.ItlSeconds).Select(s => s * 1e3).ToList());
            Percentiles(w, "e2el", done.Select(r => r.LatencySeconds * 1e3).ToList());
            w.WriteEndObject();
        });
    }

    /// <summary>mean_, median_, std_ (population, numpy's default) and p99_ of one metric in ms; 0 when empty, as vLLM writes.</summary>
    private static void Percentiles(Utf8JsonWriter w, string metric, List<double> ms)
    {
        var sorted = ms.Order().ToArray();
        double mean = sorted.Length > 0 ? sorted.Average() : 0;
        double std = sorted.Length > 0 ? Math.Sqrt(sorted.Sum(x => (x - mean) * (x - mean)) / sorted.Length) : 0;
        w.WriteNumber($"mean_{metric}_ms", mean);
        w.WriteNumber($"median_{metric}_ms", Quantile(sorted, 0.5));
        w.WriteNumber($"std_{metric}_ms", std);
        w.WriteNumber($"p99_{metric}_ms", Quantile(sorted, 0.99));
    }

    /// <summary>numpy.percentile's default (linear between order statistics); 0 when empty.</summary>
    internal static double Quantile(double[] sorted, double q)
    {
        if (sorted.Length == 0)
        {
            return 0;
        }

        double position = q * (sorted.Length - 1);
        int lower = (int)Math.Floor(position);
        int upper = Math.Min(lower + 1, sorted.Length - 1);
        return sorted[lower] + ((position - lower) * (sorted[upper] - sorted[lower]));
    }

    private static bool Meets(SloTarget? slo, double milliseconds) =>
        slo is null || (slo.Inclusive ? milliseconds <= slo.Milliseconds : milliseconds < slo.Milliseconds);

    private static double Rate(double count, double seconds) => seconds > 0 ? count / seconds : 0;
}
