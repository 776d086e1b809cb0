using System.Text;
using MoePlan.Core.Search;

namespace MoePlan.Serving.Search;

/// <summary>A file for the caller to write into its output folder: the file's name there and its bytes.</summary>
public sealed record SearchFile(string Name, byte[] Content)
{
    public static SearchFile Text(string name, string text) => new(name, Encoding.UTF8.GetBytes(text));
}

/// <summary>The files <c>moeplan search -o DIR</c> writes: the winners as plans, the frontiers as plots.</summary>
public static class SearchFiles
{
    private const int PlotWidth = 900;
    private const int PlotHeight = 600;

    /// <summary>
    /// Each winner, in rank order, as a plan named <c>STEM-search-01.moe</c> (STEM: the base plan's file name): the base
    /// plan's source (read through the request's resolver) with the winner's settings, the cluster's node count when the
    /// search capped it, and relative paths naming an existing file or folder made relative to <paramref name="outputDirectory"/>.
    /// </summary>
    /// <exception cref="IOException">The base plan cannot be read.</exception>
    public static IReadOnlyList<SearchFile> Plans(SearchReport report, string outputDirectory)
    {
        ArgumentNullException.ThrowIfNull(report);
        var request = report.Request;
        var (file, plan, syntax) = (request.PlanFile, request.Compiled.Plan!, request.Compiled.Syntax!);
        if (!request.Resolver.TryRead(file, out var baseText, out var readError))
        {
            throw new IOException($"cannot read '{file}': {readError}");
        }

        var planDir = Path.GetDirectoryName(Path.GetFullPath(file))!;
        var outDir = Path.GetFullPath(outputDirectory);
        string Relocate(string path)
        {
            if (Path.IsPathRooted(path))
            {
                return path;
            }

            var full = Path.GetFullPath(Path.Combine(planDir, path));
            return File.Exists(full) || Directory.Exists(full) ? Path.GetRelativePath(outDir, full).Replace('\\', '/') : path;
        }

        var nodes = report.Space.Cluster.Nodes.Value != plan.Cluster.Nodes.Value ? report.Space.Cluster.Nodes.Value : (int?)null;
        var baseSettings = CandidateSettings.Of(plan);
        var stem = Path.GetFileNameWithoutExtension(file);
        return
        [
            .. report.Winners.Select((w, i) => SearchFile.Text($"{stem}-search-{i + 1:00}.moe",
                PlanTextWriter.Write(baseText, syntax, baseSettings, w.Candidate.Replaced.Settings, nodes, Relocate))),
        ];
    }

    /// <summary>
    /// The two frontiers as PNG and SVG scatter plots (<c>frontier-throughput-tpot</c>, <c>frontier-cost-ttft</c>; none for
    /// an empty frontier), the top candidates marked at their own placement's figures.
    /// </summary>
    public static IReadOnlyList<SearchFile> Plots(SearchReport report)
    {
        ArgumentNullException.ThrowIfNull(report);
        var (name, r) = (report.Name, report.Result);
        var winners = report.Winners.Select(w => w.Candidate.Replaced).ToList();
        var plots = new (string File, string Title, string X, string Y, Func<SearchCandidate, double> Fx, Func<SearchCandidate, double> Fy, IReadOnlyList<SearchCandidate> Points)[]
        {
            ("frontier-throughput-tpot", $"{name}: output tokens/s per rank vs TPOT", "TPOT (ms)", "output tokens/s per rank",
                c => c.TpotMilliseconds, c => c.OutputTokensPerSecondPerRank, r.ThroughputTpotFrontier),
            ("frontier-cost-ttft", $"{name}: $ per million output tokens vs TTFT", "TTFT (ms)", "$ per million output tokens",
                c => c.TtftMilliseconds, c => c.UsdPerMillionOutputTokens ?? 0, r.CostTtftFrontier),
        };
        var files = new List<SearchFile>();
        foreach (var (stem, title, x, y, fx, fy, points) in plots)
        {
            if (points.Count == 0)
            {
                continue;
            }

            var plot = new ScottPlot.Plot();
            var ordered = points.OrderBy(fx).ToList();
            var frontier = plot.Add.Scatter(ordered.Select(fx).ToArray(), ordered.Select(fy).ToArray());
            frontier.LegendText = "Pareto frontier";
            // Steps, not slopes: between two frontier points only the worse-latency one's value is reached.
            frontier.ConnectStyle = ScottPlot.ConnectStyle.StepHorizontal;
            var top = winners.Where(c => double.IsFinite(fx(c)) && double.IsFinite(fy(c))).ToList();
            if (top.Count > 0)
            {
                var marked = plot.Add.ScatterPoints(top.Select(fx).ToArray(), top.Select(fy).ToArray());
                marked.LegendText = "top candidates, re-placed at their own shape";
                marked.MarkerSize = 9;
            }

            plot.Title(title);
            plot.XLabel(x);
            plot.YLabel(y);
            plot.ShowLegend();
            using var image = plot.GetImage(PlotWidth, PlotHeight);
            files.Add(new SearchFile(stem + ".png", image.GetImageBytes(ScottPlot.ImageFormat.Png)));
            files.Add(SearchFile.Text(stem + ".svg", plot.GetSvgXml(PlotWidth, PlotHeight)));
        }

        return files;
    }
}
