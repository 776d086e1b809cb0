using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using MoePlan.Cli.Files;
using MoePlan.Cli.Options;
using MoePlan.Cli.Terminal;
using MoePlan.Core.Compilation;
using MoePlan.Core.Cost;
using MoePlan.Core.Emit;
using MoePlan.Core.Plan;
using MoePlan.Core.Search;
using MoePlan.Core.Text;
using MoePlan.Scripting;
using MoePlan.Serving.Proxy;
using MoePlan.Serving.Search;
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
            Description = "NAME=VALUES to vary, replacing or adding to the plan's sweep block: a,b,c or a..b (inclusive), a..b step s, a..b*2 (doubling), " +
                          "or the sweep block's words (\"a to b step s\", \"a to b doubling\"); on,off for mtp/overlap; ep=dp for \"same as dp\"; proxy modes and policies by name. " +
                          "Names: " + string.Join(", ", SweepDimensions.Names.Keys) + ".",
            Arity = ArgumentArity.ZeroOrMore,
        };
        var top = new Option<int>("--top") { Description = "Candidates to rank (meeting the SLOs, by output tokens/s per rank; a rank is a GPU or a die).", DefaultValueFactory = _ => 10 };
        var devices = new Option<int?>("--devices") { Description = "Cap the cluster to this many devices (whole nodes); default: the plan's cluster." };
        var format = CommonOptions.Format("text", "json", "md");
        var output = new Option<string?>("--output", "-o") { Description = "Write the top candidates as .moe plans, and the frontiers as PNG and SVG plots, into this folder." };
        var confirmRequests = new Option<int>("--confirm-requests") { Description = "Requests of the plan's workload to simulate each top candidate with.", DefaultValueFactory = _ => DefaultConfirmRequests };
        var noConfirm = new Option<bool>("--no-confirm") { Description = "Do not confirm the top candidates by simulation." };
        var rankBy = new Option<string>("--rank-by") { Description = "Final order of the top candidates: analytic (re-placed cost model) or simulated (simulated goodput per rank).", DefaultValueFactory = _ => "analytic" };
        rankBy.AcceptOnlyFromAmong("analytic", "simulated");
        var disagreement = new Option<double>("--disagreement") { Description = "Flag a simulated figure that differs from the analytic one by more than this fraction.", DefaultValueFactory = _ => 0.25 };
        var command = new Command("search", """
            Search the deployments around a plan: vary (the plan's `sweep` block, then --vary) instance counts,
            per-instance dp/tp/ep, batch sizes, redundant experts, MTP, microbatch overlap, proxy mode and policy;
            drop what the verifier rejects; cost the rest with the cost model (placement imbalance fixed at the base
            plan's); keep the Pareto frontiers (throughput vs TPOT, cost vs TTFT) and the top candidates meeting the
            SLOs by output tokens/s per rank (a GPU, or a die of a multi-die package); re-place those at their own
            EP and redundant experts, re-cost them, and confirm them with the serving simulation of the plan's
            workload, flagging where it disagrees with the cost model. docs/search.md.

            Examples:
              moeplan search plans/deepseek-v3-h800.moe --vary decode.dp=16..144*2 --vary decode.ep=dp --vary decode.max_batch=32..128*2
              moeplan search plans/deepseek-v3-h800.moe --devices 64 --vary prefill.instances=1 --vary decode.dp=16,24,32 --vary decode.ep=dp --vary decode.max_batch=16..128*2
              moeplan search plans/deepseek-r1-cloudmatrix384.moe --vary decode.mtp=on,off --vary decode.dp=80,160,320 --vary decode.ep=dp --format json
              moeplan search plans/deepseek-v3-h800.moe --vary decode.max_batch=16..128 --top 3 -o winners/
              moeplan search plans/search/deepseek-v3-64xh800.moe --rank-by simulated
            """)
        {
            file,
            vary,
            top,
            devices,
            format,
            output,
            confirmRequests,
            noConfirm,
            rankBy,
            disagreement,
        };
        command.SetAction(parse => Run(parse.GetValue(file)!, parse.GetValue(vary) ?? [], parse.GetValue(top), parse.GetValue(devices),
            parse.GetValue(format)!, parse.GetValue(output),
            new Confirming(!parse.GetValue(noConfirm), parse.GetValue(confirmRequests), parse.GetValue(rankBy) == "simulated", parse.GetValue(disagreement)),
            stdout, stderr));
        return command;
    }

    /// <summary>Requests each top candidate is simulated with by default: a few seconds for ten candidates.</summary>
    public const int DefaultConfirmRequests = 5000;

    /// <summary>How the top candidates are confirmed by simulation.</summary>
    /// <param name="Threshold">Disagreement (a fraction) above which a figure is flagged.</param>
    public sealed record Confirming(bool Simulate, int Requests, bool RankBySimulation, double Threshold)
    {
        public static readonly Confirming Default = new(true, DefaultConfirmRequests, false, 0.25);
    }

    public static int Run(string file, string[] vary, int top, int? devices, string format, string? output, TextWriter stdout, TextWriter stderr) =>
        Run(file, vary, top, devices, format, output, Confirming.Default, stdout, stderr);

    public static int Run(string file, string[] vary, int top, int? devices, string format, string? output, Confirming confirming, TextWriter stdout, TextWriter stderr)
    {
        if (top < 1)
        {
            throw new CliUsageException($"--top {top}: must be at least 1");
        }

        if (confirming.Requests < 1)
        {
            throw new CliUsageException($"--confirm-requests {confirming.Requests}: must be at least 1");
        }

        if (!(confirming.Threshold > 0))
        {
            throw new CliUsageException($"--disagreement {confirming.Threshold.ToString(CultureInfo.InvariantCulture)}: must be above 0");
        }

        if (confirming.RankBySimulation && !confirming.Simulate)
        {
            throw new CliUsageException("--rank-by simulated needs the simulation: drop --no-confirm");
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

        // A scheduler-script policy is compiled before the search (its errors end it) to confirm the winners with.
        Func<IRoutingPolicy>? scriptPolicy = null;
        if (confirming.Simulate && compiled.Plan.Proxy.ScriptPath is not null)
        {
            if (new ServingOptions(null, null, null, false, null, null).ResolvePolicies(file, compiled.Plan, stderr) is not { } scripted)
            {
                return ExitCodes.Diagnostics;
            }

            var scriptName = scripted.Names[0];
            scriptPolicy = () => scripted.Registry.TryCreate(scriptName, out var created, out var error) ? created! : throw new CliUsageException($"{file}: {error}");
        }

        // The plan's sweep block, each --vary replacing or extending it; --devices over the sweep's devices.
        var dimensions = SearchSpace.WithOverrides(compiled.Plan.Sweep, varied);
        var space = SearchSpace.Create(compiled.Plan, dimensions, devices ?? compiled.Plan.Sweep?.Devices?.Value, out var spaceError)
                    ?? throw new CliUsageException(spaceError);

        // Placement runs once, on the base plan; every candidate is costed with its imbalances.
        var imbalances = compiled.Cost.Options;
        var watch = Stopwatch.StartNew();
        var result = space.Count >= ProgressFrom && ProgressDisplay.Shows(format, stdout)
            ? ProgressDisplay.Run("searching", space.Count, report => DesignSpaceSearch.Run(space, imbalances, top, enumerated => report(enumerated)))
            : DesignSpaceSearch.Run(space, imbalances, top);
        watch.Stop();
        var seconds = Math.Max(watch.Elapsed.TotalSeconds, 1e-9);

        // The winners, placed for their own EP and redundant experts and re-costed, then (unless --no-confirm)
        // served by the simulation with the plan's workload.
        List<Winner> winners;
        try
        {
            winners = Confirm(file, resolver, compiled.Cost.Options, result, confirming, scriptPolicy);
        }
        catch (SchedulerHookException e)
        {
            return DiagnosticPrinter.WriteScriptStopped(file, e, stderr);
        }

        var written = new List<string>();
        if (output is not null)
        {
            written = WritePlans(file, output, compiled, space, winners.Select(w => w.Candidate.Replaced.Settings).ToList());
            written.AddRange(WritePlots(output, compiled.Plan.Name.Value, result, [.. winners.Select(w => w.Candidate.Replaced)]));
        }

        var stats = new Stats(space.Count, result, seconds);
        var report = new Report(compiled.Plan.Name.Value, space, result, winners, confirming, stats, written);
        switch (format)
        {
            case "json":
                stdout.WriteLine(Json(report));
                break;
            case "md":
                stdout.Write(Markdown(report));
                break;
            default:
                WriteText(stdout, report);
                break;
        }

        return ExitCodes.Ok;
    }

    /// <summary>Candidates from which a terminal run shows a progress bar.</summary>
    private const long ProgressFrom = 200_000;

    private sealed record Stats(long Candidates, SearchResult Result, double Seconds)
    {
        public double CandidatesPerSecond => Result.Enumerated / Seconds;

        /// <summary>Cost-model evaluations (valid candidates) per second.</summary>
        public double EvaluationsPerSecond => Result.Evaluated / Seconds;
    }

    /// <summary>A top candidate after re-placement, with its simulation when it ran.</summary>
    private sealed record Winner(ReplacedCandidate Candidate, SimulatedConfirmation? Simulation);

    private sealed record Report(string Name, SearchSpace Space, SearchResult Result, IReadOnlyList<Winner> Winners, Confirming Confirming, Stats Stats, List<string> Written);

    private static List<Winner> Confirm(string file, FileSystemSourceResolver resolver, CostOptions options, SearchResult result, Confirming confirming, Func<IRoutingPolicy>? scriptPolicy)
    {
        var replaced = WinnerReplacement.ReplaceAndRank(result.Top, resolver, options);
        if (!confirming.Simulate)
        {
            return [.. replaced.Select(r => new Winner(r, null))];
        }

        var planDirectory = Path.GetDirectoryName(Path.GetFullPath(file))!;
        var simulated = replaced.Select(r => SimulatedConfirmation.Run(r, planDirectory, confirming.Requests, seed: null, scriptPolicy)).ToList();
        var ordered = confirming.RankBySimulation ? SimulatedConfirmation.RankBySimulation(simulated) : simulated;
        return [.. ordered.Select(c => new Winner(c.Candidate, c))];
    }

    private static List<string> WritePlans(string file, string output, CompilationResult compiled, SearchSpace space, IReadOnlyList<CandidateSettings> winners)
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
            for (var i = 0; i < winners.Count; i++)
            {
                var text = PlanTextWriter.Write(baseText, compiled.Syntax!, baseSettings, winners[i], nodes, Relocate);
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

    /// <summary>The two frontiers as PNG and SVG scatter plots, the top candidates marked at their own placement's figures.</summary>
    private static List<string> WritePlots(string output, string name, SearchResult r, IReadOnlyList<SearchCandidate> winners)
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


    private static string Parallel(int instances, int dp, int tp, int ep) => $"{instances} x dp{dp} tp{tp} ep{ep}";

    private static string OnOff(bool value) => value ? "on" : "off";

    private static string Imbalance(double prefill, double decode) =>
        double.IsFinite(prefill) ? $"{prefill.ToString("0.000", CultureInfo.InvariantCulture)}/{decode.ToString("0.000", CultureInfo.InvariantCulture)}" : "-";

    private static readonly string[] Columns =
        ["#", "prefill", "batch tok", "ovl", "decode", "batch", "mtp", "ovl", "redundant", "proxy", "devices", "imbalance p/d", "tok/s/rank", "TTFT ms", "TPOT ms", "$/M out", "SLOs"];

    private static string[] Row(int rank, SearchCandidate c, string imbalance)
    {
        var s = c.Settings;
        return
        [
            rank.ToString(CultureInfo.InvariantCulture),
            Parallel(s.PrefillInstances, s.PrefillDataParallel, s.PrefillTensorParallel, s.PrefillExpertParallel),
            s.PrefillMaxBatchTokens.ToString(CultureInfo.InvariantCulture), OnOff(s.PrefillOverlap),
            Parallel(s.DecodeInstances, s.DecodeDataParallel, s.DecodeTensorParallel, s.DecodeExpertParallel),
            s.DecodeMaxBatch.ToString(CultureInfo.InvariantCulture), OnOff(s.DecodeMtp), OnOff(s.DecodeOverlap),
            s.RedundantExperts.ToString(CultureInfo.InvariantCulture), Proxy(s), c.Devices.ToString(CultureInfo.InvariantCulture), imbalance,
            NumberText.CompactOrDash(c.OutputTokensPerSecondPerRank), NumberText.CompactOrDash(c.TtftMilliseconds), NumberText.CompactOrDash(c.TpotMilliseconds), NumberText.CompactOrDash(c.UsdPerMillionOutputTokens), c.MeetsSlos ? "met" : "missed",
        ];
    }

    private static string Proxy(CandidateSettings s) => $"{(s.ProxyParallel ? "parallel" : "sequential")} {s.ProxyPolicyName}";

    private static readonly string[] ConfirmationColumns =
        ["#", "proxy", "TTFT mean ms model / sim", "TPOT mean ms model / sim", "tok/s/rank model / sim", "goodput req/s/rank model / sim", "SLO attainment", "SLOs (sim)", "disagree"];

    /// <summary>"model / simulated (+x%)": the signed relative difference of the simulation from the model.</summary>
    private static string Pair(ConfirmedFigure f) =>
        $"{NumberText.CompactOrDash(f.Analytic)} / {NumberText.CompactOrDash(f.Simulated)}" + (double.IsFinite(f.Disagreement)
            ? $" ({(f.Simulated >= f.Analytic ? "+" : "-")}{(f.Disagreement * 100).ToString("0", CultureInfo.InvariantCulture)}%)"
            : "");

    private static string[] ConfirmationRow(int rank, SimulatedConfirmation c, double threshold)
    {
        if (c.Skipped is not null)
        {
            return [rank.ToString(CultureInfo.InvariantCulture), Proxy(c.Candidate.Replaced.Settings), "not simulated: " + c.Skipped, "", "", "", "", "", ""];
        }

        var flagged = c.Disagreements(threshold);
        return
        [
            rank.ToString(CultureInfo.InvariantCulture), Proxy(c.Candidate.Replaced.Settings), Pair(c.TtftMilliseconds), Pair(c.TpotMilliseconds),
            Pair(c.OutputTokensPerSecondPerRank), Pair(c.GoodputRequestsPerSecondPerRank),
            (c.SloAttainment * 100).ToString("0.0", CultureInfo.InvariantCulture) + "%", c.SimulatedMeetsSlos ? "met" : "missed",
            flagged.Count == 0 ? "-" : "! " + string.Join(", ", flagged),
        ];
    }

    private static IEnumerable<string> Summary(Report report)
    {
        var (name, space, r, stats) = (report.Name, report.Space, report.Result, report.Stats);
        yield return $"{name}: searched {stats.Candidates} candidates ({string.Join(", ", space.Varied.Select(v => $"{v.Name} x{v.Values.Distinct().Count()}"))}) " +
                     $"within {space.Cluster.Devices} devices";
        yield return $"{r.Valid} valid (verifier), {r.Evaluated} evaluated, {r.Top.Count} shown meeting the SLOs; " +
                     $"{stats.Seconds.ToString("0.###", CultureInfo.InvariantCulture)} s, {stats.CandidatesPerSecond.ToString("0", CultureInfo.InvariantCulture)} candidates/s, " +
                     $"{stats.EvaluationsPerSecond.ToString("0", CultureInfo.InvariantCulture)} evaluations/s";
        yield return $"placement imbalance fixed at the base plan's for the search: prefill {r.PrefillImbalance.ToString("0.000", CultureInfo.InvariantCulture)}, " +
                     $"decode {r.DecodeImbalance.ToString("0.000", CultureInfo.InvariantCulture)}; the top candidates are re-placed at their own EP and redundant experts, re-costed and re-ranked";
        yield return $"Pareto frontiers: throughput/TPOT {r.ThroughputTpotFrontier.Count} points, cost/TTFT {r.CostTtftFrontier.Count} points";
        foreach (var rejection in r.Rejections.Take(3))
        {
            yield return $"rejected by {rejection.Code}: {rejection.Candidates} candidates, e.g. {rejection.Example}";
        }

        if (report.Winners.Count > 0)
        {
            var c = report.Confirming;
            yield return !c.Simulate
                ? "not confirmed by simulation (--no-confirm)"
                : $"confirmed by simulation: each top candidate served the first {c.Requests} requests of the plan's workload (plan's seed), " +
                  $"ranked by {(c.RankBySimulation ? "simulated goodput per rank" : "the re-placed cost model")}; disagreements above " +
                  $"{(c.Threshold * 100).ToString("0", CultureInfo.InvariantCulture)}% flagged";
        }
    }

    private static IEnumerable<(string Title, string[] Columns, List<string[]> Rows)> Sections(Report report)
    {
        var winners = report.Winners;
        yield return (report.Confirming.RankBySimulation
                ? "top candidates, ranked by simulated goodput per rank (figures: cost model, own placement)"
                : "top candidates meeting the SLOs, by output tokens/s per rank (figures: cost model, own placement)",
            Columns,
            [.. winners.Select((w, i) => Row(i + 1, w.Candidate.Replaced, Imbalance(w.Candidate.PrefillImbalance, w.Candidate.DecodeImbalance)))]);
        if (winners.Any(w => w.Simulation is not null))
        {
            yield return ("top candidates confirmed by simulation (TTFT and TPOT: means; model / simulated (difference))", ConfirmationColumns,
                [.. winners.Select((w, i) => ConfirmationRow(i + 1, w.Simulation!, report.Confirming.Threshold))]);
        }

        var r = report.Result;
        var baseImbalance = Imbalance(r.PrefillImbalance, r.DecodeImbalance);
        foreach (var (title, list) in new[]
                 {
                     Thinned("Pareto frontier: output tokens/s per rank up, TPOT down", r.ThroughputTpotFrontier),
                     Thinned("Pareto frontier: $ per million output tokens down, TTFT down", r.CostTtftFrontier),
                 })
        {
            yield return (title, Columns, [.. list.Select((c, i) => Row(i + 1, c, baseImbalance))]);
        }
    }

    private static void WriteText(TextWriter stdout, Report report)
    {
        foreach (var line in Summary(report))
        {
            stdout.WriteLine(line);
        }

        foreach (var (title, columns, rows) in Sections(report))
        {
            var table = new Table().Title(title).AddColumns(columns);
            foreach (var row in rows)
            {
                table.AddRow(row.Select(Markup.Escape).ToArray());
            }

            TableWriter.Write(stdout, table);
        }

        if (report.Winners.Count == 0)
        {
            stdout.WriteLine("no valid candidate meets the SLOs");
        }

        foreach (var path in report.Written)
        {
            stdout.WriteLine($"wrote {path}");
        }
    }

    /// <summary>Frontier points shown in text and Markdown; JSON lists them all.</summary>
    private const int ShownFrontierPoints = 20;

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

    private static string Markdown(Report report)
    {
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

    private static string Json(Report report)
    {
        var (space, r, stats) = (report.Space, report.Result, report.Stats);
        using var stream = new MemoryStream();
        using (var w = new Utf8JsonWriter(stream, JsonOutput.Options))
        {
            w.WriteStartObject();
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
                if (winner.Simulation is { } sim)
                {
                    WriteSimulation(w, sim, c.Threshold);
                }

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

        return Encoding.UTF8.GetString(stream.ToArray());
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
        w.WriteStartArray("disagreements");
        foreach (var name in sim.Disagreements(threshold))
        {
            w.WriteStringValue(name);
        }

        w.WriteEndArray();
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
}
