using System.CommandLine;
using MoePlan.Cli.Files;
using MoePlan.Cli.Options;
using MoePlan.Cli.Terminal;
using MoePlan.Core.Compilation;
using MoePlan.Core.Diagnostics;
using MoePlan.Core.Plan;
using MoePlan.Proxy.Engine;
using MoePlan.Proxy.Routing;
using MoePlan.Proxy.Server;
using MoePlan.Serving.Inputs;
using MoePlan.Serving.Simulation;

namespace MoePlan.Cli.Commands;

/// <summary><c>moeplan proxy PLAN --upstreams FILE --port P</c>: the live proxy (<see cref="ProxyServer"/>) until Ctrl+C, then a drain.</summary>
internal static class ProxyCommand
{
    /// <summary>Restarts of a dead script host before the proxy stays on the default policy (a few: a long-lived server outlives an unlucky call, not a script that always crashes).</summary>
    public const int DefaultScriptRestarts = 3;

    public static Command Create(TextWriter stdout, TextWriter stderr)
    {
        var file = new Argument<string>("plan") { Description = "Plan file (*.moe): its engine protocol, proxy mode and policy, and the deployment's caps." };
        var upstreams = new Option<string>("--upstreams") { Description = "Upstreams file: 'pool instance url [bootstrap_port]' per line (compile --target moeplan-proxy writes one).", Required = true };
        var port = new Option<int>("--port") { Description = "Port to listen on (0: any free port).", DefaultValueFactory = _ => 8000 };
        var host = new Option<string>("--host") { Description = "Address to listen on.", DefaultValueFactory = _ => "127.0.0.1" };
        var policy = new Option<string?>("--policy") { Description = $"Policy instead of the plan's: {string.Join(", ", RoutingPolicyCatalog.BuiltNames)}." };
        var scheduler = new Option<string?>("--scheduler") { Description = "Route with this C# scheduler script (.csx) instead of the plan's policy." };
        var restarts = new Option<int>("--script-restarts") { Description = "Times a scheduler script's dead script host (crashed, or killed past its deadline) is started again; then the default policy decides.", DefaultValueFactory = _ => DefaultScriptRestarts };
        var workers = new Option<int?>("--workers") { Description = "Proxy workers instead of the plan's (proxy { workers N }; default 1); with --worker-state independent each routes every N-th request on its own view." };
        var workerState = new Option<string?>("--worker-state") { Description = "How the workers see the deployment: shared (one decision-maker over every request, Omni Proxy) or independent (each its own counters and cache record, plain nginx)." };
        workerState.AcceptOnlyFromAmong("shared", "independent");
        var maxHeld = new Option<int>("--max-queue") { Description = "Requests the proxy holds at most while upstreams are at their caps; beyond, 429 with Retry-After.", DefaultValueFactory = _ => 1024 };
        var command = new Command("proxy", """
            Run the plan's proxy in front of real or emulated engines: an OpenAI-compatible server (/v1/completions,
            /v1/chat/completions streaming or not, /v1/models, /health, /metrics in Prometheus text) that routes each
            request with the plan's policy or scheduler script (the same code as `moeplan run`) over live state, with the
            engine's P/D protocol (vLLM kv_transfer_params, SGLang bootstrap rooms) and the plan's proxy mode. Failed
            upstreams are marked down and retried around; a failing script hook takes the default policy's decision
            (counted in /metrics, logged to stderr); Ctrl+C drains in-flight streams (docs/proxy.md).

            Examples:
              moeplan proxy plans/deepseek-v3-h800.moe --upstreams bundle/upstreams.txt --port 8000
              moeplan proxy plans/qwen1.5-moe-scripted.moe --upstreams upstreams.txt --scheduler plans/schedulers/cache-affinity.csx
              moeplan proxy plans/deepseek-v3-h800.moe --upstreams upstreams.txt --policy least-load --workers 4 --worker-state independent
            """)
        {
            file,
            upstreams,
            port,
            host,
            policy,
            scheduler,
            restarts,
            workers,
            workerState,
            maxHeld,
        };
        command.SetAction(parse => Run(parse.GetValue(file)!, parse.GetValue(upstreams)!, parse.GetValue(host)!, parse.GetValue(port), new ServingOptions(null, null, parse.GetValue(policy), false, null, null, parse.GetValue(scheduler), SchedulerFallback: true) { ScriptRestarts = parse.GetValue(restarts), ProxyWorkers = parse.GetValue(workers), WorkerState = parse.GetValue(workerState) }, parse.GetValue(maxHeld), stdout, stderr));
        return command;
    }

    private static int Run(string file, string upstreamsFile, string host, int port, ServingOptions policyOptions, int maxHeld, TextWriter stdout, TextWriter stderr)
    {
        if (port is < 0 or > 65535)
        {
            throw new CliUsageException("--port must be 0 to 65535");
        }

        if (maxHeld < 0)
        {
            throw new CliUsageException("--max-queue must be 0 or more");
        }

        if (policyOptions.ScriptRestarts < 0)
        {
            throw new CliUsageException("--script-restarts must be 0 or more");
        }

        if (policyOptions.ProxyWorkers is < 1 or > ProxyPlan.MaxWorkers)
        {
            throw new CliUsageException($"--workers must be 1 to {ProxyPlan.MaxWorkers}");
        }

        if (!InputFile.TryReadText(upstreamsFile, InputFile.DefaultMaxBytes, out var text, out var error))
        {
            throw new CliUsageException($"cannot read upstreams '{upstreamsFile}': {error}");
        }

        var diagnostics = new List<Diagnostic>();
        var list = UpstreamList.Parse(upstreamsFile, text, diagnostics);
        if (list is null)
        {
            DiagnosticPrinter.WriteText(stderr, diagnostics);
            stderr.WriteLine($"{upstreamsFile}: not started: {diagnostics.Count(d => d.IsError)} error(s)");
            return ExitCodes.Diagnostics;
        }

        if (EngineCommand.Compile(file, stderr) is not { } compiled)
        {
            return ExitCodes.Diagnostics;
        }

        var plan = compiled.Plan!;
        list.CompareWith(plan, upstreamsFile, diagnostics);
        DiagnosticPrinter.WriteText(stderr, diagnostics);
        var policies = policyOptions.ResolvePolicies(file, plan, stderr);
        if (policies is null)
        {
            return ExitCodes.Diagnostics;
        }

        using var owned = policies;
        var name = policies.Names[0];
        var config = ServingConfig.FromPlan(plan) with { PrefillInstances = list.Prefill.Count, DecodeInstances = list.Decode.Count };
        config = config with
        {
            ProxyWorkers = policyOptions.ProxyWorkers ?? config.ProxyWorkers,
            WorkerState = policyOptions.WorkerState switch { "independent" => ProxyWorkerState.Independent, "shared" => ProxyWorkerState.Shared, _ => config.WorkerState },
        };
        var options = new ProxyOptions(list, plan.Engine.Value, plan.Proxy.Mode.Value, config, EngineOptions.ServedModelName(plan)) { Host = host, Port = port, MaxHeld = maxHeld, Log = stderr };
        return EngineCommand.Serve(async () =>
        {
            var proxy = await ProxyServer.StartAsync(options, () => policies.Create(name)).ConfigureAwait(false);
            stdout.WriteLine($"moeplan proxy on {proxy.Address}: policy {name}{Workers(config)}, {list.Prefill.Count} prefill + {list.Decode.Count} decode upstream(s), {plan.Engine.Value.ToString().ToLowerInvariant()} protocol, {plan.Proxy.Mode.Value.ToString().ToLowerInvariant()} mode; Ctrl+C drains and stops");
            return proxy;
        }, stderr);
    }

    private static string Workers(ServingConfig c) =>
        c.WorkerState == ProxyWorkerState.Independent && c.ProxyWorkers > 1 ? $" ({c.ProxyWorkers} independent workers)" : "";
}
