using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using MoePlan.Core.Compilation;
using MoePlan.Core.Cost;
using MoePlan.Core.Emit;
using MoePlan.Core.Search;
using Spectre.Console;

namespace MoePlan.Cli.Commands;

/// <summary><c>moeplan search PLAN --vary NAME=VALUES ...</c>: the best deployments around a plan under its SLOs.</summary>
internal static class SearchCommand
{
    public static Command Create(TextWriter stdout, TextWriter stderr)
    {
        var file = new Argument<string>("file") { Description = "Base plan file (*.moe): model, hardware, cluster, SLOs, workload and the values not varied." };
        var vary = new Option<string[]>("--vary")
        {
            Description = "NAME=VALUES to vary: a,b,c or a..b (inclusive) or a..b*2 (doubling); on,off for mtp/overlap; ep=dp for \"same as dp\". " +
                          "Names: " + string.Join(", ", SearchSpace.Names.Keys) + ".",
            Arity = ArgumentArity.ZeroOrMore,
        };
        var top = new Option<int>("--top") { Description = "Candidates to rank (meeting the SLOs, by output tokens/s per rank; a rank is a GPU or a die).", DefaultValueFactory = _ => 10 };
        var devices = new Option<int?>("--devices") { Description = "Cap the cluster to this many devices (whole nodes); default: the plan's cluster." };
        var format = CommonOptions.Format("text", "json", "md");
        var output = new Option<string?>("--output", "-o") { Description = "Write the top candidates as .moe plans, and the frontiers as PNG and SVG plots, into this folder." };
        var command = new Command("search", """
            Search the deployments around a plan: vary instance counts, per-instance dp/tp/ep, batch sizes, redundant
            experts, MTP and microbatch overlap; drop what the verifier rejects; cost the rest with the cost model
            (placement imbalance fixed at the base plan's); report the top candidates meeting the SLOs by output
            tokens/s per rank (a GPU, or a die of a multi-die package) and the Pareto frontiers (throughput vs TPOT, cost vs TTFT). docs/search.md.

            Examples:
              moeplan search plans/deepseek-v3-h800.moe --vary decode.dp=16..144*2 --vary decode.ep=dp --vary decode.max_batch=32..128*2
              moeplan search plans/deepseek-v3-h800.moe --devices 64 --vary prefill.instances=1 --vary decode.dp=16,24,32 --vary decode.ep=dp --vary decode.max_batch=16..128*2
              moeplan search plans/deepseek-r1-cloudmatrix384.moe --vary decode.mtp=on,off --vary decode.dp=80,160,320 --vary decode.ep=dp --format json
              moeplan search plans/deepseek-v3-h800.moe --vary decode.max_batch=16..128 --top 3 -o winners/
            """)
        {
            file,
            vary,
            top,
            devices,
            format,
            output,
        };
        command.SetAction(parse => Run(parse.GetValue(file)!, parse.GetValue(vary) ?? [], parse.GetValue(top), parse.GetValue(devices),
            parse.GetValue(format)!, parse.GetValue(output), stdout, stderr));
        return command;
    }

    public static int Run(string file, string[] vary, int top, int? devices, string format, string? output, TextWriter stdout, TextWriter stderr)
    {
        if (top < 1)
        {
            throw new CliUsageException($"--top {top}: must be at least 1");
        }

        var varied = new List<DimensionValues>();
        foreach (var v in vary)
        {
            varied.Add(SearchSpace.ParseVary(v, out var parseError) ?? throw new CliUsageException(parseError));
        }

        if (!File.Exists(file))
        {
            stderr.WriteLine($"moeplan: error: cannot read '{file}': no such file");
            return ExitCodes.UsageOrIo;
        }

        var resolver = new FileSystemSourceResolver();
        var compiled = PlanCompiler.Compile(file, resolver);
        if (compiled.Plan is null || compiled.Syntax is null || compiled.Cost is null)
        {
            DiagnosticPrinter.WriteText(stderr, compiled.Diagnostics);
            return ExitCodes.Diagnostics;
        }

        var space = SearchSpace.Create(compiled.Plan, varied, devices, out var spaceError) ?? throw new CliUsageException(spaceError);

        // Placement runs once, on the base plan; every candidate is costed with its imbalances.
        var imbalances = compiled.Cost.Options;
        var watch = Stopwatch.StartNew();
        var result = ShowsProgress(format, stdout, space.Count)
            ? RunWithProgress(space, imbalances, top)
            : DesignSpaceSearch.Run(space, imbalances, top);
        watch.Stop();
        var seconds = Math.Max(watch.Elapsed.TotalSeconds, 1e-9);

        var written = new List<string>();
        if (output is not null)
        {
            written = WritePlans(file, output, compiled, space, result);
            written.AddRange(WritePlots(output, compiled.Plan.Name.Value, result));
        }

        var stats = new Stats(space.Count, result, seconds);
        switch (format)
        {
            case "json":
                stdout.WriteLine(Json(compiled.Plan.Name.Value, space, result, stats, written));
                break;
            case "md":
                stdout.Write(Markdown(compiled.Plan.Name.Value, space, result, stats, written));
                break;
            default:
                WriteText(stdout, compiled.Plan.Name.Value, space, result, stats, written);
                break;
        }

        return ExitCodes.Ok;
    }

    /// <summary>Candidates from which a terminal run shows a progress bar.</summary>
    private const long ProgressFrom = 200_000;

    /// <summary>A progress bar only for text output to a terminal: never in JSON or Markdown, never when redirected or in tests.</summary>
    private static bool ShowsProgress(string format, TextWriter stdout, long candidates) =>
        format == "text" && candidates >= ProgressFrom && ReferenceEquals(stdout, Console.Out) &&
        !Console.IsOutputRedirected && !Console.IsErrorRedirected;

    /// <summary>Runs the search with a Spectre.Console progress bar on stderr (stdout keeps only the report).</summary>
    private static SearchResult RunWithProgress(SearchSpace space, CostOptions imbalances, int top)
    {
        var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Error) });
        SearchResult? result = null;
        console.Progress()
            .AutoClear(true)
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn())
            .Start(context =>
            {
                var task = context.AddTask("searching", maxValue: space.Count);
                result = DesignSpaceSearch.Run(space, imbalances, top, enumerated => task.Value = enumerated);
            });
        return result!;
    }

    private sealed record Stats(long Candidates, SearchResult Result, double Seconds)
    {
        public double CandidatesPerSecond => Result.Enumerated / Seconds;

        /// <summary>Cost-model evaluations (valid candidates) per second.</summary>
        public double EvaluationsPerSecond => Result.Evaluated / Seconds;
    }

    private static List<string> WritePlans(string file, string output, CompilationResult compiled, SearchSpace space, SearchResult result)
    {
        var baseText = File.ReadAllText(file);
        var planDir = Path.GetDirectoryName(Path.GetFullPath(file))!;
        var outDir = Path.GetFullPath(output);
        string Relocate(string path)
        {
            if (Path.IsPathRooted(path))
            {
                return path;
            }

            var full = Path.GetFullPath(Path.Combine(planDir, path));
            return File.Exists(full) || Directory.Exists(full) ? Path.GetRelativePath(outDir, full).Replace('\\', '/') : path;
        }

        var nodes = space.Cluster.Nodes.Value != compiled.Plan!.Cluster.Nodes.Value ? space.Cluster.Nodes.Value : (int?)null;
        var baseSettings = CandidateSettings.Of(compiled.Plan);
        var paths = new List<string>();
        try
        {
            Directory.CreateDirectory(outDir);
            var stem = Path.GetFileNameWithoutExtension(file);
            for (var i = 0; i < result.Top.Count; i++)
            {
                var text = PlanTextWriter.Write(baseText, compiled.Syntax!, baseSettings, result.Top[i].Settings, nodes, Relocate);
                var path = Path.Combine(output, $"{stem}-search-{i + 1:00}.moe");
                File.WriteAllText(path, text);
                paths.Add(path);
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new CliUsageException($"cannot write plans to '{output}': {e.Message}");
        }

        return paths;
    }

    /// <summary>The two frontiers as PNG and SVG scatter plots, the top candidates marked.</summary>
    private static List<string> WritePlots(string output, string name, SearchResult r)
    {
        var paths = new List<string>();
        var plots = new (string File, string Title, string X, string Y, Func<SearchCandidate, double> Fx, Func<SearchCandidate, double> Fy, IReadOnlyList<SearchCandidate> Points)[]
        {
            ("frontier-throughput-tpot", $"{name}: output tokens/s per rank vs TPOT", "TPOT (ms)", "output tokens/s per rank",
                c => c.TpotMilliseconds, c => c.OutputTokensPerSecondPerRank, r.ThroughputTpotFrontier),
            ("frontier-cost-ttft", $"{name}: $ per million output tokens vs TTFT", "TTFT (ms)", "$ per million output tokens",
                c => c.TtftMilliseconds, c => c.UsdPerMillionOutputTokens ?? 0, r.CostTtftFrontier),
        };
        try
        {
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
                var top = r.Top.Where(c => double.IsFinite(fx(c)) && double.IsFinite(fy(c))).ToList();
                if (top.Count > 0)
                {
                    var marked = plot.Add.ScatterPoints(top.Select(fx).ToArray(), top.Select(fy).ToArray());
                    marked.LegendText = "top candidates meeting the SLOs";
                    marked.MarkerSize = 9;
                }

                plot.Title(title);
                plot.XLabel(x);
                plot.YLabel(y);
                plot.ShowLegend();
                var png = Path.Combine(output, stem + ".png");
                var svg = Path.Combine(output, stem + ".svg");
                plot.SavePng(png, 900, 600);
                plot.SaveSvg(svg, 900, 600);
                paths.Add(png);
                paths.Add(svg);
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new CliUsageException($"cannot write plots to '{output}': {e.Message}");
        }

        return paths;
    }

    private static string F(double? value) => value is { } v ? CostReportWriter.F(v) : "-";

    private static string Parallel(int instances, int dp, int tp, int ep) => $"{instances} x dp{dp} tp{tp} ep{ep}";

    private static string OnOff(bool value) => value ? "on" : "off";

    private static readonly string[] Columns =
        ["#", "prefill", "batch tok", "ovl", "decode", "batch", "mtp", "ovl", "redundant", "devices", "tok/s/rank", "TTFT ms", "TPOT ms", "$/M out", "SLOs"];

    private static string[] Row(int rank, SearchCandidate c)
    {
        var s = c.Settings;
        return
        [
            rank.ToString(CultureInfo.InvariantCulture),
            Parallel(s.PrefillInstances, s.PrefillDataParallel, s.PrefillTensorParallel, s.PrefillExpertParallel),
            s.PrefillMaxBatchTokens.ToString(CultureInfo.InvariantCulture), OnOff(s.PrefillOverlap),
            Parallel(s.DecodeInstances, s.DecodeDataParallel, s.DecodeTensorParallel, s.DecodeExpertParallel),
            s.DecodeMaxBatch.ToString(CultureInfo.InvariantCulture), OnOff(s.DecodeMtp), OnOff(s.DecodeOverlap),
            s.RedundantExperts.ToString(CultureInfo.InvariantCulture), c.Devices.ToString(CultureInfo.InvariantCulture),
            F(c.OutputTokensPerSecondPerRank), F(c.TtftMilliseconds), F(c.TpotMilliseconds), F(c.UsdPerMillionOutputTokens), c.MeetsSlos ? "met" : "missed",
        ];
    }

    private static IEnumerable<string> Summary(string name, SearchSpace space, SearchResult r, Stats stats)
    {
        yield return $"{name}: searched {stats.Candidates} candidates ({string.Join(", ", space.Varied.Select(v => $"{v.Name} x{v.Values.Distinct().Count()}"))}) " +
                     $"within {space.Cluster.Devices} devices";
        yield return $"{r.Valid} valid (verifier), {r.Evaluated} evaluated, {r.Top.Count} shown meeting the SLOs; " +
                     $"{stats.Seconds.ToString("0.###", CultureInfo.InvariantCulture)} s, {stats.CandidatesPerSecond.ToString("0", CultureInfo.InvariantCulture)} candidates/s, " +
                     $"{stats.EvaluationsPerSecond.ToString("0", CultureInfo.InvariantCulture)} evaluations/s";
        yield return $"placement imbalance fixed at the base plan's: prefill {r.PrefillImbalance.ToString("0.000", CultureInfo.InvariantCulture)}, " +
                     $"decode {r.DecodeImbalance.ToString("0.000", CultureInfo.InvariantCulture)} (not re-placed per candidate)";
        yield return $"Pareto frontiers: throughput/TPOT {r.ThroughputTpotFrontier.Count} points, cost/TTFT {r.CostTtftFrontier.Count} points";
        foreach (var rejection in r.Rejections.Take(3))
        {
            yield return $"rejected by {rejection.Code}: {rejection.Candidates} candidates, e.g. {rejection.Example}";
        }
    }

    private static void WriteText(TextWriter stdout, string name, SearchSpace space, SearchResult r, Stats stats, List<string> written)
    {
        foreach (var line in Summary(name, space, r, stats))
        {
            stdout.WriteLine(line);
        }

        foreach (var (title, list) in Sections(r))
        {
            var table = new Table().Title(title).AddColumns(Columns);
            for (var i = 0; i < list.Count; i++)
            {
                table.AddRow(Row(i + 1, list[i]).Select(Markup.Escape).ToArray());
            }

            TableWriter.Write(stdout, table);
        }

        if (r.Top.Count == 0)
        {
            stdout.WriteLine("no valid candidate meets the SLOs");
        }

        foreach (var path in written)
        {
            stdout.WriteLine($"wrote {path}");
        }
    }

    /// <summary>Frontier points shown in text and Markdown; JSON lists them all.</summary>
    private const int ShownFrontierPoints = 20;

    private static IEnumerable<(string Title, IReadOnlyList<SearchCandidate> List)> Sections(SearchResult r)
    {
        yield return ("top candidates meeting the SLOs, by output tokens/s per rank", r.Top);
        yield return Thinned("Pareto frontier: output tokens/s per rank up, TPOT down", r.ThroughputTpotFrontier);
        yield return Thinned("Pareto frontier: $ per million output tokens down, TTFT down", r.CostTtftFrontier);
    }

    /// <summary>At most <see cref="ShownFrontierPoints"/> points spread evenly along the frontier, both ends included.</summary>
    private static (string, IReadOnlyList<SearchCandidate>) Thinned(string title, IReadOnlyList<SearchCandidate> frontier)
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

    private static string Markdown(string name, SearchSpace space, SearchResult r, Stats stats, List<string> written)
    {
        var sb = new StringBuilder();
        sb.Append("# Search: ").Append(name).Append("\n\n");
        foreach (var line in Summary(name, space, r, stats))
        {
            sb.Append("- ").Append(line).Append('\n');
        }

        foreach (var (title, list) in Sections(r))
        {
            sb.Append("\n## ").Append(title).Append("\n\n");
            sb.Append("| ").Append(string.Join(" | ", Columns)).Append(" |\n");
            sb.Append('|').Append(string.Concat(Columns.Select(_ => "---|"))).Append('\n');
            for (var i = 0; i < list.Count; i++)
            {
                sb.Append("| ").Append(string.Join(" | ", Row(i + 1, list[i]))).Append(" |\n");
            }
        }

        if (written.Count > 0)
        {
            sb.Append("\nWritten plans: ").Append(string.Join(", ", written.Select(p => $"`{p}`"))).Append('\n');
        }

        return sb.ToString();
    }

    private static string Json(string name, SearchSpace space, SearchResult r, Stats stats, List<string> written)
    {
        using var stream = new MemoryStream();
        using (var w = new Utf8JsonWriter(stream, DiagnosticPrinter.JsonOptions))
        {
            w.WriteStartObject();
            w.WriteString("plan", name);
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
            w.WriteString("source", "base plan's placement, reused for every candidate");
            w.WriteNumber("prefill", r.PrefillImbalance);
            w.WriteNumber("decode", r.DecodeImbalance);
            w.WriteEndObject();
            w.WriteStartArray("rejections");
            foreach (var rejection in r.Rejections)
            {
                w.WriteStartObject();
                w.WriteString("code", rejection.Code);
                w.WriteNumber("candidates", rejection.Candidates);
                w.WriteString("example", rejection.Example);
                w.WriteEndObject();
            }

            w.WriteEndArray();
            WriteList(w, "top", r.Top, written);
            WriteList(w, "frontier_throughput_tpot", r.ThroughputTpotFrontier, []);
            WriteList(w, "frontier_cost_ttft", r.CostTtftFrontier, []);
            w.WriteEndObject();
        }

        return Encoding.UTF8.GetString(stream.ToArray());
    }

    private static void WriteList(Utf8JsonWriter w, string name, IReadOnlyList<SearchCandidate> list, List<string> written)
    {
        w.WriteStartArray(name);
        for (var i = 0; i < list.Count; i++)
        {
            var c = list[i];
            var s = c.Settings;
            w.WriteStartObject();
            w.WriteNumber("rank", i + 1);
            w.WriteNumber("index", c.Index);
            w.WriteStartObject("prefill");
            w.WriteNumber("instances", s.PrefillInstances);
            w.WriteNumber("dp", s.PrefillDataParallel);
            w.WriteNumber("tp", s.PrefillTensorParallel);
            w.WriteNumber("ep", s.PrefillExpertParallel);
            w.WriteNumber("max_batch_tokens", s.PrefillMaxBatchTokens);
            w.WriteBoolean("overlap", s.PrefillOverlap);
            w.WriteEndObject();
            w.WriteStartObject("decode");
            w.WriteNumber("instances", s.DecodeInstances);
            w.WriteNumber("dp", s.DecodeDataParallel);
            w.WriteNumber("tp", s.DecodeTensorParallel);
            w.WriteNumber("ep", s.DecodeExpertParallel);
            w.WriteNumber("max_batch", s.DecodeMaxBatch);
            w.WriteBoolean("mtp", s.DecodeMtp);
            w.WriteBoolean("overlap", s.DecodeOverlap);
            w.WriteEndObject();
            w.WriteNumber("redundant_experts", s.RedundantExperts);
            w.WriteNumber("devices", c.Devices);
            w.WriteNumber("ranks", c.Ranks);
            w.WriteNumber("output_tokens_per_second_per_rank", c.OutputTokensPerSecondPerRank);
            w.WriteNumber("ttft_ms", c.TtftMilliseconds);
            w.WriteNumber("tpot_ms", c.TpotMilliseconds);
            if (c.UsdPerMillionOutputTokens is { } usd)
            {
                w.WriteNumber("usd_per_million_output_tokens", usd);
            }
            else
            {
                w.WriteNull("usd_per_million_output_tokens");
            }

            w.WriteNumber("goodput_requests_per_second", c.Report.GoodputRequestsPerSecond);
            w.WriteBoolean("meets_slos", c.MeetsSlos);
            if (i < written.Count)
            {
                w.WriteString("file", written[i]);
            }

            w.WriteEndObject();
        }

        w.WriteEndArray();
    }
}
