using System.Globalization;
using System.Text;
using MoePlan.Core.Text;
using MoePlan.Serving.Simulation;

namespace MoePlan.Serving.Reports;

/// <summary>
/// <c>moeplan run --report DIR</c>: the JSON summary, latency CDFs and queue lengths over time, as PNG and SVG plots
/// (ScottPlot) and as CSV data, returned as file contents by name (the caller writes the folder at once). Everything
/// is drawn from bounded data: each CDF from 1,001 percentiles (0, 0.1, ..., 100), queues from the run's
/// <see cref="QueueLengthSeries"/>.
/// </summary>
public static class ServingReport
{
    private const int Width = 900, Height = 600;

    /// <summary>Percentile steps of a CDF: 0.1 % apart.</summary>
    private const int CdfSteps = 1000;

    /// <summary>The report's files: <paramref name="summaryJson"/> as summary.json (<see cref="ServingReportJson"/>), then
    /// the plots and CSV data of <paramref name="runs"/> (one run, or one per compared policy).</summary>
    public static Dictionary<string, byte[]> Files(string summaryJson, IReadOnlyList<SimulationResult> runs)
    {
        ArgumentNullException.ThrowIfNull(runs);
        var files = new Dictionary<string, byte[]>(StringComparer.Ordinal)
        {
            ["summary.json"] = Encoding.UTF8.GetBytes(summaryJson),
        };

        var csv = new StringBuilder("policy,metric,percentile,ms\n");
        foreach (var (metric, title, pick) in new (string, string, Func<CompletionFigures, LatencyDistribution>)[]
        {
            ("ttft", "time to first token", f => f.Ttft),
            ("tpot", "time per output token", f => f.Tpot),
            ("e2e", "end-to-end latency", f => f.E2e),
        })
        {
            var plot = new ScottPlot.Plot();
            foreach (var run in runs)
            {
                var d = pick(run.Figures);
                if (d.Count == 0)
                {
                    continue;
                }

                var xs = new double[CdfSteps + 1];
                var ys = new double[CdfSteps + 1];
                for (int i = 0; i <= CdfSteps; i++)
                {
                    ys[i] = 100.0 * i / CdfSteps;
                    xs[i] = d.Percentile(ys[i]);
                    csv.Append(run.Policy).Append(',').Append(metric).Append(',').Append(NumberText.Format(ys[i], "R")).Append(',').Append(NumberText.Format(xs[i], "R")).Append('\n');
                }

                var line = plot.Add.Scatter(xs, ys);
                line.LegendText = run.Policy;
                line.MarkerSize = 0;
            }

            plot.Title($"{title}: cumulative distribution");
            plot.XLabel($"{metric.ToUpperInvariant()} (ms)");
            plot.YLabel("requests (%)");
            if (runs.Count > 1)
            {
                plot.ShowLegend();
            }

            Add(files, $"{metric}-cdf", plot);
        }

        files["latency-cdf.csv"] = Encoding.UTF8.GetBytes(csv.ToString());

        var queues = new StringBuilder("policy,start_s,prefill_queued,decode_queued\n");
        foreach (var run in runs)
        {
            var q = run.Queues;
            var t = new double[q.Used];
            var prefill = new double[q.Used];
            var decode = new double[q.Used];
            for (int i = 0; i < q.Used; i++)
            {
                t[i] = (q.StartMilliseconds + (i * q.BucketMilliseconds)) / 1e3;
                prefill[i] = q.Prefill(i);
                decode[i] = q.Decode(i);
                queues.Append(run.Policy).Append(',').Append(NumberText.Format(t[i], "R")).Append(',').Append(q.Prefill(i)).Append(',').Append(q.Decode(i)).Append('\n');
            }

            var plot = new ScottPlot.Plot();
            if (q.Used > 0)
            {
                var p = plot.Add.Scatter(t, prefill);
                p.LegendText = "waiting for prefill (instances and proxy)";
                p.MarkerSize = 0;
                p.ConnectStyle = ScottPlot.ConnectStyle.StepHorizontal;
                var d = plot.Add.Scatter(t, decode);
                d.LegendText = "waiting for a decode slot";
                d.MarkerSize = 0;
                d.ConnectStyle = ScottPlot.ConnectStyle.StepHorizontal;
                plot.ShowLegend();
            }

            plot.Title($"{run.Policy}: queue lengths (largest in each {NumberText.Format(q.BucketMilliseconds / 1e3, "R")} s)");
            plot.XLabel("time (s)");
            plot.YLabel("requests");
            Add(files, runs.Count > 1 ? $"queues-{run.Policy}" : "queues", plot);
        }

        files["queues.csv"] = Encoding.UTF8.GetBytes(queues.ToString());
        AddPlacement(files, runs);
        return files;
    }

    /// <summary>
    /// Loads over time and rebalancing: each pool's MoE imbalance (steps: it changes when a window starts or a rebalance
    /// lands) on the left axis against the mean TPOT of the requests completing in each 10 s (right axis), rebalances as
    /// vertical lines; <c>placement-over-time.csv</c> holds the same series. Nothing for a run without drift.
    /// </summary>
    private static void AddPlacement(Dictionary<string, byte[]> files, IReadOnlyList<SimulationResult> runs)
    {
        if (runs.All(r => r.Placement is null))
        {
            return;
        }

        var csv = new StringBuilder("policy,series,time_s,value\n");
        foreach (var run in runs)
        {
            if (run.Placement is not { } placement)
            {
                continue;
            }

            var plot = new ScottPlot.Plot();
            double end = Math.Max(run.EndMilliseconds, placement.Imbalance.Max(c => c.Milliseconds)) / 1e3;
            foreach (var pool in placement.Imbalance.Select(c => c.Pool).Distinct().Order())
            {
                var changes = placement.Imbalance.Where(c => c.Pool == pool).ToList();
                var name = pool.ToString().ToLowerInvariant();
                var xs = changes.Select(c => c.Milliseconds / 1e3).Append(end).ToArray();
                var ys = changes.Select(c => c.Imbalance).Append(changes[^1].Imbalance).ToArray();
                for (int i = 0; i < changes.Count; i++)
                {
                    csv.Append(run.Policy).Append(',').Append(name).Append("_imbalance,").Append(NumberText.Format(xs[i], "R")).Append(',').Append(NumberText.Format(ys[i], "R")).Append('\n');
                }

                var line = plot.Add.Scatter(xs, ys);
                line.LegendText = $"{name} MoE imbalance";
                line.MarkerSize = 0;
                line.ConnectStyle = ScottPlot.ConnectStyle.StepHorizontal;
            }

            if (placement.Tpot.Length > 0)
            {
                var xs = placement.Tpot.Select(b => (b.StartMilliseconds + b.EndMilliseconds) / 2e3).ToArray();
                var ys = placement.Tpot.Select(b => b.MeanTpotMilliseconds).ToArray();
                for (int i = 0; i < xs.Length; i++)
                {
                    csv.Append(run.Policy).Append(",mean_tpot_ms,").Append(NumberText.Format(xs[i], "R")).Append(',').Append(NumberText.Format(ys[i], "R")).Append('\n');
                }

                var tpot = plot.Add.Scatter(xs, ys);
                tpot.LegendText = "mean TPOT (ms) of requests completing in each 10 s";
                tpot.Axes.YAxis = plot.Axes.Right;
                plot.Axes.Right.Label.Text = "TPOT (ms)";
            }

            foreach (var e in placement.Events)
            {
                var mark = plot.Add.VerticalLine(e.Milliseconds / 1e3);
                mark.LinePattern = ScottPlot.LinePattern.Dotted;
                csv.Append(run.Policy).Append(',').Append(e.Pool.ToString().ToLowerInvariant()).Append("_rebalance_stall_ms,")
                    .Append(NumberText.Format(e.Milliseconds / 1e3, "R")).Append(',').Append(NumberText.Format(e.Movement.Milliseconds, "R")).Append('\n');
            }

            plot.Title($"{run.Policy}, rebalance {placement.Rebalance}: MoE imbalance and TPOT");
            plot.XLabel("time (s)");
            plot.YLabel("MoE imbalance (busiest rank / mean)");
            plot.ShowLegend();
            Add(files, runs.Count > 1 ? $"placement-over-time-{run.Policy}" : "placement-over-time", plot);
        }

        files["placement-over-time.csv"] = Encoding.UTF8.GetBytes(csv.ToString());
    }

    private static void Add(Dictionary<string, byte[]> files, string stem, ScottPlot.Plot plot)
    {
        files[stem + ".png"] = plot.GetImage(Width, Height).GetImageBytes(ScottPlot.ImageFormat.Png);
        files[stem + ".svg"] = Encoding.UTF8.GetBytes(NumberClipPaths(plot.GetSvgXml(Width, Height)));
    }

    /// <summary>
    /// Skia's SVG canvas names clip paths from a process-wide counter (hexadecimal: cl_b, cl_c, ... in a second plot), so the
    /// same plot drawn twice in one process differs; numbered afresh per file in order of appearance it does not.
    /// </summary>
    private static string NumberClipPaths(string svg)
    {
        var names = new Dictionary<string, string>(StringComparer.Ordinal);
        return System.Text.RegularExpressions.Regex.Replace(svg, @"\bcl_[0-9a-f]+\b", m =>
        {
            if (!names.TryGetValue(m.Value, out var name))
            {
                name = "cl_" + names.Count.ToString(CultureInfo.InvariantCulture);
                names[m.Value] = name;
            }

            return name;
        });
    }
}
