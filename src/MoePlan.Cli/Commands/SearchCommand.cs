using System.CommandLine;
using System.Globalization;
using MoePlan.Cli.Files;
using MoePlan.Cli.Options;
using MoePlan.Cli.Terminal;
using MoePlan.Core.Compilation;
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
        var confirmRequests = new Option<int>("--confirm-requests") { Description = "Requests of the plan's workload to simulate each top candidate with.", DefaultValueFactory = _ => Confirming.DefaultRequests };
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
        var set = PlanOverrideOption.Create();
        command.Options.Add(set);
        command.SetAction(parse => Run(parse.GetValue(file)!, parse.GetValue(vary) ?? [], parse.GetValue(top), parse.GetValue(devices),
            parse.GetValue(format)!, parse.GetValue(output),
            new Confirming(!parse.GetValue(noConfirm), parse.GetValue(confirmRequests), parse.GetValue(rankBy) == "simulated", parse.GetValue(disagreement)),
            stdout, stderr, parse.GetValue(set)));
        return command;
    }

    public static int Run(string file, string[] vary, int top, int? devices, string format, string? output, Confirming confirming, TextWriter stdout, TextWriter stderr, string[]? set = null)
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

        if (InputPaths.Problem(file) is { } problem)
        {
            stderr.WriteLine($"moeplan: error: {problem}");
            return ExitCodes.UsageOrIo;
        }

        ISourceResolver resolver = PlanOverrideOption.Resolver(set, file);
        var compiled = PlanCompiler.Compile(file, resolver);
        if (compiled.Plan is null && resolver.TryRead(file, out var writtenText, out _)
            && SearchStartFinder.FirstCheckingVariation(compiled, writtenText, resolver, varied) is { } start)
        {
            // The written plan does not check, but a variation the search covers does: search from there and say so.
            DiagnosticPrinter.WriteText(stderr, compiled.Diagnostics);
            stderr.WriteLine($"moeplan: note: {file} does not check as written; the search starts from its first variation that does: {string.Join(", ", start.Variation)}");
            (compiled, resolver) = (start.Compiled, start.Resolver);
        }

        if (compiled.Plan is null || compiled.Syntax is null || compiled.Cost is null)
        {
            DiagnosticPrinter.WriteText(stderr, compiled.Diagnostics);
            return ExitCodes.Diagnostics;
        }

        // A scheduler-script policy is compiled before the search (its errors end it) to confirm the winners with.
        Func<IRoutingPolicy>? scriptPolicy = null;
        ServingPolicies? scripted = null;
        if (confirming.Simulate && compiled.Plan.Proxy.ScriptPath is not null)
        {
            scripted = new ServingOptions(null, null, null, false, null, null).ResolvePolicies(file, compiled.Plan, stderr);
            if (scripted is null)
            {
                return ExitCodes.Diagnostics;
            }

            var scriptName = scripted.Names[0];
            scriptPolicy = () => scripted.Registry.TryCreate(scriptName, out var created, out var error) ? created! : throw new CliUsageException($"{file}: {error}");
        }

        var request = new SearchRequest(file, compiled, resolver, varied, top, devices, confirming)
        {
            ScriptPolicy = scriptPolicy,
            Progress = ProgressDisplay.Shows(format, stdout) ? ShowProgress : null,
        };
        SearchReport report;
        try
        {
            report = SearchRun.Execute(request, out var spaceError) ?? throw new CliUsageException(spaceError);
        }
        catch (SchedulerHookException e)
        {
            return ScriptStopReport.Write(file, e, stderr);
        }
        finally
        {
            scripted?.Dispose();
        }

        if (output is not null)
        {
            var written = Write(output, "plans", () => SearchFiles.Plans(report, output));
            written.AddRange(Write(output, "plots", () => SearchFiles.Plots(report)));
            report = report with { Written = written };
        }

        switch (format)
        {
            case "json":
                stdout.WriteLine(SearchReportWriter.Json(report));
                break;
            case "md":
                stdout.Write(SearchReportWriter.Markdown(report));
                break;
            default:
                WriteText(stdout, report);
                break;
        }

        return ExitCodes.Ok;
    }

    /// <summary>Candidates from which a terminal run shows a progress bar.</summary>
    private const long ProgressFrom = 200_000;

    private static SearchResult ShowProgress(long candidates, Func<Action<long>?, SearchResult> search) =>
        candidates >= ProgressFrom ? ProgressDisplay.Run("searching", candidates, report => search(enumerated => report(enumerated))) : search(null);

    /// <summary>Writes the files into the output folder; the paths as written (the folder as given).</summary>
    private static List<string> Write(string output, string what, Func<IReadOnlyList<SearchFile>> files)
    {
        try
        {
            Directory.CreateDirectory(Path.GetFullPath(output));
            var paths = new List<string>();
            foreach (var f in files())
            {
                var path = Path.Combine(output, f.Name);
                File.WriteAllBytes(path, f.Content);
                paths.Add(path);
            }

            return paths;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new CliUsageException($"cannot write {what} to '{output}': {e.Message}");
        }
    }

    private static void WriteText(TextWriter stdout, SearchReport report)
    {
        foreach (var line in SearchReportWriter.Summary(report))
        {
            stdout.WriteLine(line);
        }

        foreach (var (title, columns, rows) in SearchReportWriter.Sections(report))
        {
            var table = new Table().Title(title).AddColumns([.. columns]);
            foreach (var row in rows)
            {
                table.AddRow([.. row.Select(Markup.Escape)]);
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
}
