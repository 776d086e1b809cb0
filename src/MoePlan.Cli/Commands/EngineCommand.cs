using System.CommandLine;
using MoePlan.Cli.Files;
using MoePlan.Cli.Options;
using MoePlan.Cli.Terminal;
using MoePlan.Core.Compilation;
using MoePlan.Core.Plan;
using MoePlan.Proxy.Engine;
using MoePlan.Proxy.Server;

namespace MoePlan.Cli.Commands;

/// <summary>
/// <c>moeplan engine PLAN --emulate</c>: one emulated engine instance (<see cref="EmulatedEngine"/>), or with --all the
/// plan's whole deployment behind a live proxy (<see cref="EmulatedDeployment"/>), until Ctrl+C.
/// </summary>
internal static class EngineCommand
{
    public static Command Create(TextWriter stdout, TextWriter stderr)
    {
        var file = new Argument<string>("plan") { Description = "Plan file (*.moe): the engine's protocol, caps, prefix cache and step times." };
        var emulate = new Option<bool>("--emulate") { Description = "Emulate the engine (required: real engines start from the bundle's launch scripts)." };
        var pool = new Option<string?>("--pool") { Description = "The pool the instance belongs to: prefill or decode." };
        pool.AcceptOnlyFromAmong("prefill", "decode");
        var instance = new Option<int>("--instance") { Description = "The instance's number in its pool.", DefaultValueFactory = _ => 0 };
        var all = new Option<bool>("--all") { Description = "Every instance of the plan on free ports, and the plan's proxy in front on --port." };
        var port = new Option<int>("--port") { Description = "Port to listen on (with --all: the proxy's; 0: any free port).", DefaultValueFactory = _ => 8000 };
        var speed = new Option<double>("--speed") { Description = "Run steps this many times faster than the cost model's times (1: real time).", DefaultValueFactory = _ => 1.0 };
        var policy = new Option<string?>("--policy") { Description = $"With --all: the proxy's policy instead of the plan's: {string.Join(", ", RoutingPolicyCatalog.BuiltNames)}." };
        var command = new Command("engine", """
            Start an emulated engine that speaks the plan's engine API (OpenAI completions and chat, streaming) and P/D
            protocol (vLLM kv_transfer_params, SGLang bootstrap rooms), batches continuously and produces tokens at the
            cost model's step times (divided by --speed), with a prefix cache of the plan's size. With --all, the plan's
            whole deployment plus the proxy: the quickest way to try a policy or `moeplan bench` without accelerators.

            Examples:
              moeplan engine plans/qwen1.5-moe-tiny.moe --emulate --all --port 8000 --speed 10
              moeplan engine plans/deepseek-v3-h800.moe --emulate --pool prefill --instance 0 --port 30001
            """)
        {
            file,
            emulate,
            pool,
            instance,
            all,
            port,
            speed,
            policy,
        };
        command.SetAction(parse => Run(parse.GetValue(file)!, parse.GetValue(emulate), parse.GetValue(pool), parse.GetValue(instance), parse.GetValue(all), parse.GetValue(port), parse.GetValue(speed), parse.GetValue(policy), stdout, stderr));
        return command;
    }

    /// <summary>The plan compiled (its errors printed, null); a missing file is a usage error.</summary>
    internal static CompilationResult? Compile(string file, TextWriter stderr)
    {
        InputPaths.RequireFile(file);

        var compiled = PlanCompiler.Compile(file, new FileSystemSourceResolver());
        if (compiled.Plan is null)
        {
            DiagnosticPrinter.WriteText(stderr, compiled.Diagnostics);
            stderr.WriteLine($"{file}: not started: {compiled.Diagnostics.Count(d => d.IsError)} error(s)");
            return null;
        }

        return compiled;
    }

    /// <summary>Starts a server, waits for Ctrl+C or SIGTERM, then stops it (draining); a port in use is a usage error.</summary>
    internal static int Serve(Func<Task<IAsyncDisposable>> start, TextWriter stderr)
    {
        IAsyncDisposable server;
        try
        {
            server = start().GetAwaiter().GetResult();
        }
        catch (IOException e)
        {
            throw new CliUsageException($"cannot listen: {e.Message}");
        }

        StopSignal.WaitAsync().GetAwaiter().GetResult();
        stderr.WriteLine("stopping: draining requests in flight");
        server.DisposeAsync().AsTask().GetAwaiter().GetResult();
        return ExitCodes.Ok;
    }

    private static int Run(string file, bool emulate, string? pool, int instance, bool all, int port, double speed, string? policy, TextWriter stdout, TextWriter stderr)
    {
        if (!emulate)
        {
            throw new CliUsageException("moeplan engine only emulates engines: give --emulate (real engines start from the bundle's launch scripts)");
        }

        if (all == (pool is not null))
        {
            throw new CliUsageException("give --pool prefill|decode (one instance) or --all (the whole deployment), not both or neither");
        }

        if (!(speed > 0) || double.IsInfinity(speed))
        {
            throw new CliUsageException("--speed must be a positive number");
        }

        if (port is < 0 or > 65535)
        {
            throw new CliUsageException("--port must be 0 to 65535");
        }

        if (Compile(file, stderr) is not { } compiled)
        {
            return ExitCodes.Diagnostics;
        }

        var plan = compiled.Plan!;
        if (!all)
        {
            var role = pool == "prefill" ? PoolRole.Prefill : PoolRole.Decode;
            int instances = role == PoolRole.Prefill ? plan.Prefill.Instances.Value : plan.Decode.Instances.Value;
            if (instance < 0 || instance >= instances)
            {
                throw new CliUsageException($"--instance must be 0 to {instances - 1} (the plan's {pool} pool has {instances})");
            }

            var options = EngineOptions.FromPlan(plan, compiled.Cost, role, instance, speed) with { Port = port };
            return Serve(async () =>
            {
                var engine = await EmulatedEngine.StartAsync(options).ConfigureAwait(false);
                stdout.WriteLine($"emulated {plan.Engine.Value.ToString().ToLowerInvariant()} engine {pool} {instance} of {plan.Name.Value} on {engine.Address} (speed x{speed}); Ctrl+C stops");
                return engine;
            }, stderr);
        }

        // As under `moeplan proxy`: a plan's script runs under fallback, its dead script host restarted.
        var policies = new ServingOptions(null, null, policy, false, null, null, SchedulerFallback: true) { ScriptRestarts = ProxyCommand.DefaultScriptRestarts }.ResolvePolicies(file, plan, stderr);
        if (policies is null)
        {
            return ExitCodes.Diagnostics;
        }

        return Serve(async () =>
        {
            var deployment = await EmulatedDeployment.StartAsync(plan, compiled.Cost, () => policies.Create(policies.Names[0]), speed, configure: o => o with { Port = port, Log = stderr }).ConfigureAwait(false);
            stdout.Write(deployment.Upstreams.Write());
            stdout.WriteLine($"emulated {plan.Name.Value}: {deployment.Prefill.Count} prefill + {deployment.Decode.Count} decode engine(s) (speed x{speed}) behind the proxy on {deployment.Proxy.Address} (policy {policies.Names[0]}); Ctrl+C stops");
            return deployment;
        }, stderr);
    }
}
