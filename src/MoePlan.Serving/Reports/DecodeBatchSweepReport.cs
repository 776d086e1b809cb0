using System.Globalization;
using System.Text;
using MoePlan.Core.Cost;
using MoePlan.Core.Text;

namespace MoePlan.Serving.Reports;

/// <summary>A plan's decode sweep under a label (docs/cost-model.md shows DeepSeek on H800 and on the 910C supernode).</summary>
public sealed record LabelledDecodeSweep(string Label, string Plan, IReadOnlyList<DecodeBatchPoint> Points);

/// <summary>
/// TPOT and output throughput per device against decode batch per device, as a Markdown table and a ScottPlot
/// chart (PNG): what <see cref="DecodeBatchSweep"/> computes, shown so the knees can be read.
/// </summary>
public static class DecodeBatchSweepReport
{
    private const int Width = 900;
    private const int Height = 420;

    public static string Table(IEnumerable<LabelledDecodeSweep> sweeps)
    {
        var s = new StringBuilder();
        foreach (var sweep in sweeps)
        {
            s.Append(CultureInfo.InvariantCulture, $"{sweep.Label} (`{sweep.Plan}`, decode pool as the plan says but for its batch):\n\n");
            s.Append("| batch per device | TPOT ms | output tok/s per device | step ms | floors ms | memory-bound ms | compute-bound ms | network ms | hidden by overlap ms |\n");
            s.Append("|---|---|---|---|---|---|---|---|---|\n");
            foreach (var p in sweep.Points)
            {
                s.Append(CultureInfo.InvariantCulture,
                    $"| {p.BatchPerDevice} | {p.TpotMilliseconds:0.0} | {p.OutputTokensPerSecondPerDevice:N0} | {p.StepMilliseconds:0.0} | {p.FloorMilliseconds:0.0} | {p.MemoryBoundMilliseconds:0.0} | {p.ComputeBoundMilliseconds:0.0} | {p.NetworkMilliseconds:0.0} | {p.HiddenMilliseconds:0.0} |\n");
            }

            s.Append('\n');
        }

        return s.ToString();
    }

    /// <summary>TPOT and output tokens/s per device against batch per device (log2 axis): two PNG charts by name.</summary>
    public static IReadOnlyDictionary<string, byte[]> Png(IReadOnlyList<LabelledDecodeSweep> sweeps)
    {
        var files = new SortedDictionary<string, byte[]>(StringComparer.Ordinal);
        foreach (var (name, title, y, pick) in new (string, string, string, Func<DecodeBatchPoint, double>)[]
        {
            ("decode-batch-tpot.png", "TPOT against decode batch", "TPOT (ms)", p => p.TpotMilliseconds),
            ("decode-batch-throughput.png", "Decode throughput against batch", "output tok/s per device", p => p.OutputTokensPerSecondPerDevice),
        })
        {
            var plot = new ScottPlot.Plot();
            foreach (var sweep in sweeps)
            {
                var line = plot.Add.Scatter(sweep.Points.Select(p => Math.Log2(p.BatchPerDevice)).ToArray(), sweep.Points.Select(pick).ToArray());
                line.LegendText = sweep.Label;
            }

            plot.Title(title);
            plot.XLabel("batch per device");
            plot.YLabel(y);
            plot.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericAutomatic
            {
                LabelFormatter = v => NumberText.Format(Math.Pow(2, v), "0"),
            };
            plot.ShowLegend(ScottPlot.Alignment.UpperLeft);
            files[name] = plot.GetImage(Width, Height).GetImageBytes(ScottPlot.ImageFormat.Png);
        }

        return files;
    }
}
