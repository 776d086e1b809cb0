using System.Globalization;
using MoePlan.Cli.Files;
using MoePlan.Cli.Options;
using MoePlan.Cli.Terminal;
using MoePlan.Core.Plan;
using MoePlan.Core.Text;
using MoePlan.Scheduling;
using MoePlan.Scripting;
using MoePlan.Serving.Reports;
using MoePlan.Serving.Simulation;
using Spectre.Console;

namespace MoePlan.Cli.Commands;

/// <summary><c>moeplan run PLAN</c> without --functional: options to a <see cref="ServingRequest"/>, the session's outcome to text, JSON and report files.</summary>
internal static partial class RunCommand
{
    internal static int Serve(string file, ServingOptions options, string format, TextWriter stdout, TextWriter stderr)
    {
        InputPaths.RequireFile(file);

        if (options.MaxRequests is < 1)
        {
            throw new CliUsageException("--max-requests must be 1 or more");
        }

        if (options.ProxyWorkers is < 1 or > ProxyPlan.MaxWorkers)
        {
            throw new CliUsageException($"--proxy-workers must be 1 to {ProxyPlan.MaxWorkers}");
        }

        if (options.Trace is null && options.TraceFormat is not null)
        {
            throw new CliUsageException("--trace-format needs --trace");
        }

        ServingPolicies? policies = null;
        var request = new ServingRequest(file, PlanOverrideOption.Resolver([.. options.Set], file), plan =>
        {
            if (options.ComparePolicies && options.Policy is not null)
            {
                throw new CliUsageException("give --policy or --compare-policies, not both");
            }

            policies = options.ResolvePolicies(file, plan, stderr);
            return policies is null ? null : new ServingPolicySet(policies.Registry, policies.Names);
        })
        {
            TracePath = options.Trace,
            TraceFormat = options.TraceFormat switch { "azure" => TraceFormat.Azure, "mooncake" => TraceFormat.Mooncake, _ => null },
            MaxRequests = options.MaxRequests,
            Seed = options.Seed,
            ProxyWorkers = options.ProxyWorkers,
            WorkerState = options.WorkerState switch { "independent" => ProxyWorkerState.Independent, "shared" => ProxyWorkerState.Shared, _ => null },
            Progress = ProgressDisplay.Shows(format, stdout) ? (description, maximum, simulate) => ProgressDisplay.Run(description, maximum, simulate) : null,
        };

        ServingSessionResult session;
        try
        {
            session = ServingSession.Serve(request);
        }
        catch (SchedulerHookException e)
        {
            return ScriptStopReport.Write(file, e, stderr);
        }
        finally
        {
            // The script hosts (child processes) end with the simulation.
            policies?.Dispose();
        }

        switch (session.Stop)
        {
            case ServingStop.Usage:
                var usage = session.Usage!;
                throw new CliUsageException(usage.UnknownTraceFormat ? usage.Message + "; give --trace-format mooncake|azure" : usage.Message);
            case ServingStop.PlanErrors:
                return NotRun(stderr, file, session.Diagnostics, "");
            case ServingStop.TraceErrors:
                return NotRun(stderr, file, session.Diagnostics, " in the trace");
            case ServingStop.NoPolicies:
                return ExitCodes.Diagnostics;
        }

        var (plan, config, runs) = (session.Plan!, session.Config!, session.Metrics);
        if (options.Report is { } reportDirectory)
        {
            // summary.json is the --format json output, newline and all.
            var summary = ServingReportJson.Write(file, plan, config, runs, options.ComparePolicies) + Environment.NewLine;
            BundleDirectory.Write(reportDirectory, ServingReport.Files(summary, session.Runs), options.Force);
        }

        if (format == "json")
        {
            stdout.WriteLine(ServingReportJson.Write(file, plan, config, runs, options.ComparePolicies));
        }
        else if (options.ComparePolicies)
        {
            WriteComparison(stdout, file, plan, config, runs);
        }
        else
        {
            WriteServingText(stdout, file, plan, config, runs[0]);
            WriteAgainstAnalytic(stdout, runs[0], session.Analytic, plan);
        }

        if (format != "json" && options.Report is { } written)
        {
            stdout.WriteLine($"  report: {written} (summary.json, latency CDFs and queue lengths as PNG, SVG and CSV)");
        }

        if (policies!.FallbackWarning() is { } fallbacks)
        {
            stderr.WriteLine($"moeplan: warning: {fallbacks}");
        }

        return ExitCodes.Ok;
    }

    private static string Ms(double x) => double.IsNaN(x) ? "-" : NumberText.Format(x, "0.00");

    private static string Describe(string file, DeploymentPlan plan, ServingConfig c, ServingMetrics m) =>
        $"{file}: serving simulation, policy {m.Policy}, {(c.Aggregated ? "aggregated (chunked prefill, no KV transfer)" : plan.Proxy.Mode.Value.ToString().ToLowerInvariant() + " mode")}, APC-aware routing {(c.ApcAware ? "on" : "off")}, tokenizer reuse {(c.TokenizerReuse ? "on" : "off")}{Workers(c)}";

    private static string Workers(ServingConfig c) =>
        c.ProxyWorkers == 1 && c.WorkerState == ProxyWorkerState.Shared
            ? ""
            : $", {c.ProxyWorkers} proxy worker(s) with {(c.WorkerState == ProxyWorkerState.Shared ? "shared state (one master decides)" : "independent views (each its own counters)")}";

    private static void WriteDeployment(TextWriter stdout, ServingConfig c)
    {
        if (c.Aggregated)
        {
            stdout.WriteLine($"  serve: {c.PrefillInstances} instance(s), {c.PrefillTokenCap:N0} tokens per step (decode batch first, then prompt chunks), {c.DecodeSequenceCap:N0} sequences and {c.DecodeTokenCap:N0} KV tokens each, {NumberText.Format(c.TokensPerStep, "0.###")} tokens per step per sequence, prefix cache {c.PrefixCacheBlocks:N0} blocks of 512 tokens each");
            stdout.WriteLine($"  tokenisation {NumberText.Format(c.TokenizeMillisecondsPerToken * 1000, "0.###")} us per token (assumed), counted {(c.TokenizerReuse ? "once" : "twice")}");
            return;
        }

        stdout.WriteLine($"  prefill: {c.PrefillInstances} instance(s), {c.PrefillTokenCap:N0} tokens per step, prefix cache {c.PrefixCacheBlocks:N0} blocks of 512 tokens each");
        stdout.WriteLine($"  decode: {c.DecodeInstances} instance(s), {c.DecodeSequenceCap:N0} sequences and {c.DecodeTokenCap:N0} KV tokens each, {NumberText.Format(c.TokensPerStep, "0.###")} tokens per step per sequence");
        stdout.WriteLine($"  KV transfer {NumberText.Format(c.KvTransferMillisecondsPerToken * 1000, "0.000")} ms per 1,000 prompt tokens; tokenisation {NumberText.Format(c.TokenizeMillisecondsPerToken * 1000, "0.###")} us per token (assumed), counted {(c.TokenizerReuse ? "once" : "twice")}");
    }

    private static void WriteServingText(TextWriter stdout, string file, DeploymentPlan plan, ServingConfig c, ServingMetrics m)
    {
        stdout.WriteLine(Describe(file, plan, c, m));
        WriteDeployment(stdout, c);
        stdout.WriteLine($"  requests: {m.Arrived:N0} arrived, {m.Completed:N0} completed, {m.Rejected:N0} rejected (larger than a decode instance's KV, or not admitted by the policy), over {NumberText.Format(m.DurationSeconds, "0.###")} s");
        var table = new Table().AddColumns("latency (ms)", "p50", "p90", "p99", "mean");
        foreach (var (name, s) in new[] { ("TTFT", m.TtftMilliseconds), ("TPOT", m.TpotMilliseconds), ("end to end", m.E2eMilliseconds) })
        {
            table.AddRow(name, Ms(s.P50), Ms(s.P90), Ms(s.P99), Ms(s.Mean));
        }

        TableWriter.Write(stdout, table);
        stdout.WriteLine($"  throughput: {NumberText.Format(m.RequestsPerSecond, "0.###")} requests/s, {NumberText.Format(m.InputTokensPerSecond, "0")} input tokens/s, {NumberText.Format(m.OutputTokensPerSecond, "0")} output tokens/s");
        stdout.WriteLine($"  goodput: {NumberText.Format(m.GoodputRequestsPerSecond, "0.###")} requests/s within {Slo(plan)}");
        stdout.WriteLine($"  APC hit rate: {NumberText.Format(100 * m.ApcHitRate, "0.0")} % of input tokens");
        var stages = new Table().AddColumns("stage", "mean ms in it", "what takes the time");
        // Aggregated: no hand-off from prefill to decode, so its stages are left out.
        foreach (var stage in RequestStages.Timed.Where(s => !c.Aggregated || s is not (RequestStage.DecodeWaiting or RequestStage.DecodeScheduled)))
        {
            stages.AddRow(RequestStages.Name(stage), Ms(m.StageMeanMilliseconds[(int)stage]), RequestStages.TimeSpentOn(stage));
        }

        TableWriter.Write(stdout, stages);
        if (c.Aggregated)
        {
            stdout.WriteLine($"  utilisation: serve {string.Join(", ", m.PrefillUtilization.Select(u => NumberText.Format(100 * u, "0.0") + " %"))}");
            return;
        }

        stdout.WriteLine($"  utilisation: prefill {string.Join(", ", m.PrefillUtilization.Select(u => NumberText.Format(100 * u, "0.0") + " %"))}; decode {string.Join(", ", m.DecodeUtilization.Select(u => NumberText.Format(100 * u, "0.0") + " %"))}");
    }

    /// <summary>
    /// What the figures are: simulated at the offered load, set against the cost model's saturated estimates; a
    /// one-line reason when a median is more than 2x from its estimate (the usual cause: batches not full at this load).
    /// </summary>
    private static void WriteAgainstAnalytic(TextWriter stdout, ServingMetrics m, Core.Cost.CostReport? analytic, DeploymentPlan plan)
    {
        var offered = plan.Workload.Arrivals is { } arrivals ? $"{NumberText.Format(arrivals.RatePerSecond, "0.###")} req/s offered" : "the trace's arrivals";
        if (analytic is null)
        {
            stdout.WriteLine($"  simulated at the offered load ({offered})");
            return;
        }

        var (ttft, tpot) = (analytic.Prefill.TtftMilliseconds, analytic.Decode.TpotMilliseconds);
        stdout.WriteLine($"  simulated at the offered load ({offered}); the cost model's saturated-capacity estimates (`moeplan cost`): TTFT {Ms(ttft)} ms, TPOT {Ms(tpot)} ms");
        foreach (var (name, simulated, estimate) in new[] { ("TTFT", m.TtftMilliseconds.P50, ttft), ("TPOT", m.TpotMilliseconds.P50, tpot) })
        {
            if (simulated > 0 && estimate > 0 && Math.Max(simulated / estimate, estimate / simulated) > 2)
            {
                var ratio = NumberText.Format(Math.Max(simulated / estimate, estimate / simulated), "0.0");
                stdout.WriteLine(simulated < estimate
                    ? $"  {name} p50 is {ratio}x below the estimate: the estimate assumes full batches (a saturated deployment); at this load steps carry fewer requests and queues are short"
                    : $"  {name} p50 is {ratio}x above the estimate: requests queue at this load (the offered rate is near or past capacity), which the saturated estimate does not include");
            }
        }
    }

    private static string Slo(DeploymentPlan plan)
    {
        var parts = new List<string>();
        if (plan.Slo.Ttft is { } t)
        {
            parts.Add($"TTFT {(t.Inclusive ? "<=" : "<")} {NumberText.Format(t.Milliseconds, "0.###")} ms");
        }

        if (plan.Slo.Tpot is { } p)
        {
            parts.Add($"TPOT {(p.Inclusive ? "<=" : "<")} {NumberText.Format(p.Milliseconds, "0.###")} ms");
        }

        return parts.Count == 0 ? "no SLOs (every completed request counts)" : "per request " + string.Join(" and ", parts);
    }

    private static void WriteComparison(TextWriter stdout, string file, DeploymentPlan plan, ServingConfig c, IReadOnlyList<ServingMetrics> runs)
    {
        stdout.WriteLine($"{file}: serving simulation, every built policy on the same arrivals, {plan.Proxy.Mode.Value.ToString().ToLowerInvariant()} mode");
        WriteDeployment(stdout, c);
        var table = new Table().AddColumns("policy", "completed", "rejected", "TTFT p50", "TTFT p99", "TPOT p50", "TPOT p99", "E2E p99", "out tok/s", "goodput req/s", "APC hit");
        foreach (var m in runs)
        {
            table.AddRow(
                m.Policy,
                m.Completed.ToString("N0", CultureInfo.InvariantCulture),
                m.Rejected.ToString("N0", CultureInfo.InvariantCulture),
                Ms(m.TtftMilliseconds.P50),
                Ms(m.TtftMilliseconds.P99),
                Ms(m.TpotMilliseconds.P50),
                Ms(m.TpotMilliseconds.P99),
                Ms(m.E2eMilliseconds.P99),
                NumberText.Format(m.OutputTokensPerSecond, "0"),
                NumberText.Format(m.GoodputRequestsPerSecond, "0.###"),
                NumberText.Format(100 * m.ApcHitRate, "0.0") + " %");
        }

        TableWriter.Write(stdout, table);
        stdout.WriteLine("  latencies in ms; goodput within " + Slo(plan));
    }
}
