using System.CommandLine;
using MoePlan.Cli.Options;
using MoePlan.Cli.Terminal;
using MoePlan.Core.Diagnostics;
using MoePlan.Core.Plan;
using MoePlan.Core.Text;
using MoePlan.Core.Workloads;
using MoePlan.Proxy.Bench;
using MoePlan.Serving.Inputs;
using MoePlan.Serving.Simulation;

namespace MoePlan.Cli.Commands;

/// <summary><c>moeplan bench URL --trace F</c>: replays a trace against an OpenAI-compatible server (<see cref="LoadGenerator"/>) and prints what it measured.</summary>
internal static class BenchCommand
{
    public static Command Create(TextWriter stdout, TextWriter stderr)
    {
        var url = new Argument<string>("url") { Description = "Base URL of an OpenAI-compatible server (a moeplan proxy, an engine, any router)." };
        var trace = new Option<string>("--trace") { Description = "Request trace to replay.", Required = true };
        var traceFormat = new Option<string?>("--trace-format") { Description = "mooncake (JSONL) or azure (CSV); default from the extension (.jsonl, .csv)." };
        traceFormat.AcceptOnlyFromAmong("mooncake", "azure");
        var maxRequests = new Option<int?>("--max-requests") { Description = "Replay at most the first N requests." };
        var speed = new Option<double>("--speed") { Description = "Replay the trace this many times faster; reported times are scaled back (x speed) to the trace's clock.", DefaultValueFactory = _ => 1.0 };
        var plan = new Option<string?>("--plan") { Description = "Plan whose SLOs define goodput (default: none, every completed request counts)." };
        var resultFile = new Option<string?>("--result-file") { Description = "Also write vLLM bench serve's result JSON (--save-result format) to this file." };
        var format = CommonOptions.Format("text", "json");
        var command = new Command("bench", """
            Replay a trace against a server at the trace's timing (divided by --speed): each request a streamed
            /v1/completions whose prompt has the trace's length and, for Mooncake traces, its block-hash structure (shared
            hash ids give shared token prefixes), with the trace's output length. Reports requests completed and failed,
            TTFT, TPOT and end-to-end percentiles, throughput and goodput in `moeplan run --format json`'s shape, and
            optionally vLLM's bench result file (docs/proxy.md). Exit 0 when it ran, 1 for trace diagnostics, 2 for
            usage errors or an unreachable server.

            Examples:
              moeplan bench http://127.0.0.1:8000 --trace plans/data/azure_llm_inference_trace_code.csv --max-requests 300 --speed 10
              moeplan bench http://127.0.0.1:8000 --trace plans/data/mooncake_synthetic_trace.jsonl --plan plans/qwen1.5-moe-tiny.moe --format json --result-file vllm.json
            """)
        {
            url,
            trace,
            traceFormat,
            maxRequests,
            speed,
            plan,
            resultFile,
            format,
        };
        command.SetAction(parse => Run(parse.GetValue(url)!, parse.GetValue(trace)!, parse.GetValue(traceFormat), parse.GetValue(maxRequests), parse.GetValue(speed), parse.GetValue(plan), parse.GetValue(resultFile), parse.GetValue(format)!, stdout, stderr));
        return command;
    }

    private static int Run(string url, string tracePath, string? traceFormat, int? maxRequests, double speed, string? planFile, string? resultFile, string format, TextWriter stdout, TextWriter stderr)
    {
        if (!Uri.TryCreate(url, UriKind.Absolute, out var baseUrl) || baseUrl.Scheme is not ("http" or "https"))
        {
            throw new CliUsageException($"'{url}' is not an http:// or https:// URL");
        }

        if (maxRequests is < 1)
        {
            throw new CliUsageException("--max-requests must be 1 or more");
        }

        if (!(speed > 0) || double.IsInfinity(speed))
        {
            throw new CliUsageException("--speed must be a positive number");
        }

        if (InputFile.Refusal(tracePath) is { } refusal)
        {
            throw new CliUsageException($"cannot read trace '{tracePath}': {refusal}");
        }

        var kind = traceFormat switch { "azure" => TraceFormat.Azure, "mooncake" => TraceFormat.Mooncake, _ => ServingSession.FormatOf(tracePath) }
            ?? throw new CliUsageException($"cannot tell the format of '{tracePath}' from its extension; give --trace-format mooncake|azure");
        SloTarget? ttftSlo = null, tpotSlo = null;
        if (planFile is not null)
        {
            if (EngineCommand.Compile(planFile, stderr) is not { } compiled)
            {
                return ExitCodes.Diagnostics;
            }

            (ttftSlo, tpotSlo) = (compiled.Plan!.Slo.Ttft, compiled.Plan.Slo.Tpot);
        }

        var diagnostics = new List<Diagnostic>();
        var rows = ServingRun.ReadTrace(new TraceFile(tracePath, kind), diagnostics);
        List<ArrivingRequest> requests = [.. maxRequests is { } cap ? rows.Take(cap) : rows];
        if (diagnostics.Any(d => d.IsError))
        {
            DiagnosticPrinter.WriteText(stderr, diagnostics);
            stderr.WriteLine($"{tracePath}: not run: {diagnostics.Count(d => d.IsError)} error(s) in the trace");
            return ExitCodes.Diagnostics;
        }

        var options = new BenchOptions(baseUrl, requests) { Speed = speed };
        BenchResult result;
        try
        {
            result = ProgressDisplay.Shows(format, stdout)
                ? ProgressDisplay.Run($"bench ({requests.Count:N0} requests)", requests.Count, report => LoadGenerator.RunAsync(options, n => report(n)).GetAwaiter().GetResult())
                : LoadGenerator.RunAsync(options).GetAwaiter().GetResult();
        }
        catch (BenchException e)
        {
            throw new CliUsageException(e.Message);
        }

        if (resultFile is not null)
        {
            double span = requests.Count > 1 ? (requests[^1].ArrivalMilliseconds - requests[0].ArrivalMilliseconds) / 1e3 / speed : 0;
            File.WriteAllText(resultFile, result.VllmResultJson(tracePath, DateTimeOffset.Now, span > 0 ? (requests.Count - 1) / span : null) + "\n");
        }

        if (format == "json")
        {
            stdout.WriteLine(result.RunShapeJson(tracePath, ttftSlo, tpotSlo));
            return ExitCodes.Ok;
        }

        var m = result.Metrics(ttftSlo, tpotSlo);
        stdout.WriteLine($"{url}: bench of {tracePath} ({result.Model}), speed x{NumberText.Format(speed, "0.###")}; times on the trace's clock");
        stdout.WriteLine($"  requests: {m.Arrived:N0} sent, {m.Completed:N0} completed, {m.Rejected:N0} failed, over {NumberText.Format(m.DurationSeconds, "0.###")} s ({NumberText.Format(result.WallSeconds, "0.###")} s wall)");
        foreach (var (name, s) in new[] { ("TTFT", m.TtftMilliseconds), ("TPOT", m.TpotMilliseconds), ("end to end", m.E2eMilliseconds) })
        {
            stdout.WriteLine($"  {name}: p50 {NumberText.Format(s.P50, "0.##")} ms, p90 {NumberText.Format(s.P90, "0.##")} ms, p99 {NumberText.Format(s.P99, "0.##")} ms, mean {NumberText.Format(s.Mean, "0.##")} ms ({s.Count:N0} requests)");
        }

        stdout.WriteLine($"  throughput: {NumberText.Format(m.RequestsPerSecond, "0.###")} requests/s, {NumberText.Format(m.InputTokensPerSecond, "0")} input tokens/s, {NumberText.Format(m.OutputTokensPerSecond, "0")} output tokens/s");
        stdout.WriteLine($"  goodput: {NumberText.Format(m.GoodputRequestsPerSecond, "0.###")} requests/s{(planFile is null ? " (no plan: every completed request)" : " within the plan's SLOs")}");
        stdout.WriteLine($"  APC hit rate: {NumberText.Format(100 * m.ApcHitRate, "0.0")} % of input tokens (servers' usage.prompt_tokens_details)");
        foreach (var failed in result.Records.Where(r => !r.Completed).Take(3))
        {
            stdout.WriteLine($"  failed: request {failed.Id}: {failed.Error}");
        }

        return ExitCodes.Ok;
    }
}
