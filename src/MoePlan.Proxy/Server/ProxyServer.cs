using System.Diagnostics;
using System.Net;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using MoePlan.Core.Diagnostics;
using MoePlan.Core.Plan;
using MoePlan.Proxy.Engine;
using MoePlan.Proxy.Protocol;
using MoePlan.Proxy.Routing;
using MoePlan.Scripting;
using MoePlan.Serving.Proxy;
using MoePlan.Serving.Simulation;

namespace MoePlan.Proxy.Server;

/// <summary>
/// <c>moeplan proxy</c>: an OpenAI-compatible front end on Kestrel (<c>/v1/completions</c>, <c>/v1/chat/completions</c>
/// streaming or not, <c>/v1/models</c>, <c>/health</c>, <c>/metrics</c>) that routes each request with the plan's
/// policy (<see cref="ProxyRouter"/>) and forwards it with the engine's P/D protocol (<see cref="PdForwarder"/>).
/// Failures before anything reached the client are retried on another upstream (the failed one marked down until a
/// health probe answers); after that the client gets an error event. Every request ends in exactly one outcome,
/// counted in /metrics. Stopping drains in-flight streams up to the drain timeout, then disposes the policy.
/// A scheduler script's failing hook never fails a request: the script policy runs under fallback (the default
/// policy decides that call), a dead script host is started again up to <see cref="ScriptPolicy.MaxRestarts"/> times,
/// each failure is counted in /metrics and the first of each hook and kind is logged (<see cref="ProxyOptions.Log"/>).
/// </summary>
public sealed class ProxyServer : IAsyncDisposable
{
    private readonly ProxyOptions _options;
    private readonly WebApplication _app;
    private readonly PdForwarder _forwarder;
    private readonly CancellationTokenSource _stopping = new();
    private readonly HttpClient _probeClient;
    private Task _probes = Task.CompletedTask;
    private readonly HashSet<(string Hook, ScriptFailureKind Kind)> _loggedFailures = [];
    private long _ids;
    private int _stopped;

    private ProxyServer(ProxyOptions options, IReadOnlyList<IRoutingPolicy> policies, WebApplication app)
    {
        _options = options;
        _app = app;
        var view = new LiveClusterView(options.Config, options.Upstreams.Prefill.Count, options.Upstreams.Decode.Count);
        Router = new ProxyRouter(policies, view, options.MaxHeld, options.Config.WorkerState);
        Metrics = new ProxyMetrics(Router, options.Upstreams);
        _forwarder = new PdForwarder(options, Router, Metrics);
        _probeClient = new HttpClient(new SocketsHttpHandler { ConnectTimeout = options.ConnectTimeout, UseProxy = false }) { Timeout = TimeSpan.FromSeconds(2) };
        foreach (var script in policies.OfType<ScriptPolicy>())
        {
            script.Failed += failure => ScriptFailed(script, failure);
        }
    }

    public Uri Address { get; private set; } = null!;

    public ProxyRouter Router { get; }

    public ProxyMetrics Metrics { get; }

    /// <summary>
    /// Starts the proxy with the policy, which it then owns (disposed when it stops); one object serves one worker
    /// view, so independent workers (<see cref="ServingConfig.WorkerState"/>) need the factory overload.
    /// </summary>
    public static Task<ProxyServer> StartAsync(ProxyOptions options, IRoutingPolicy policy, CancellationToken cancellation = default)
    {
        ArgumentNullException.ThrowIfNull(policy);
        bool made = false;
        return StartAsync(options, () => !made && (made = true) ? policy : throw new ArgumentException("independent proxy workers need a policy object each: give a factory", nameof(policy)), cancellation);
    }

    /// <summary>
    /// Starts the proxy with a policy object per worker view (one with shared state, <see cref="ServingConfig.ProxyWorkers"/>
    /// with independent state), made by <paramref name="policy"/>; the proxy owns them (disposed when it stops). A
    /// <see cref="ScriptPolicy"/> must run under fallback (a long-lived server never fails a request for its script);
    /// its script host is started before the proxy listens.
    /// </summary>
    /// <summary>Worker threads the thread pool keeps ready however few processors the proxy has.</summary>
    internal const int MinimumWorkerThreads = 16;

    /// <summary>
    /// On one or two cores the thread pool starts with as many threads as processors and adds more only slowly (about
    /// two a second) when work waits; a burst of streams then queues for tens of milliseconds. Measured with
    /// proxy-overhead at 1,000/s on one core: added p99 10.6 ms with the default floor, 3.0 to 7.6 ms with 16 threads
    /// (docs/benchmarks.md).
    /// </summary>
    private static void RaiseThreadPoolFloor()
    {
        ThreadPool.GetMinThreads(out var workers, out var completionPorts);
        if (workers < MinimumWorkerThreads)
        {
            ThreadPool.SetMinThreads(MinimumWorkerThreads, Math.Max(completionPorts, MinimumWorkerThreads));
        }
    }

    public static async Task<ProxyServer> StartAsync(ProxyOptions options, Func<IRoutingPolicy> policy, CancellationToken cancellation = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(policy);
        int views = options.Config.WorkerState == ProxyWorkerState.Independent ? Math.Max(1, options.Config.ProxyWorkers) : 1;
        var policies = new List<IRoutingPolicy>();
        for (int i = 0; i < views; i++)
        {
            policies.Add(policy());
        }

        if (policies.Any(p => p is ScriptPolicy { Fallback: false }))
        {
            throw new ArgumentException("a scheduler script in the proxy runs under fallback (ServingPolicies with PolicyChoice.Fallback)", nameof(policy));
        }

        // The tokenizer loads its vocabulary on first use: before the first request, not during it.
        CompletionRequest.WarmUp();
        RaiseThreadPoolFloor();
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseKestrel(k =>
        {
            k.Listen(IPAddress.Parse(options.Host), options.Port);
            k.Limits.MaxRequestBodySize = 64 * 1024 * 1024;
        });
        builder.Services.Configure<Microsoft.Extensions.Hosting.HostOptions>(h => h.ShutdownTimeout = options.DrainTimeout);
        var app = builder.Build();
        var server = new ProxyServer(options, policies, app);
        server.Map(app);
        try
        {
            foreach (var script in policies.OfType<ScriptPolicy>())
            {
                // A second or more on a loaded machine: before the first request, not during it (under the router's lock).
                await Task.Run(script.Start, cancellation).ConfigureAwait(false);
            }

            await app.StartAsync(cancellation).ConfigureAwait(false);
        }
        catch
        {
            // Not listening: the script hosts end now, not with this process.
            server.Router.Dispose();
            throw;
        }

        server.Address = new Uri(app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First());
        server._probes = Task.Run(server.ProbeAsync);
        return server;
    }

    /// <summary>Stops accepting requests and waits for those in flight (up to the drain timeout), then stops probing.</summary>
    public async Task StopAsync()
    {
        if (Interlocked.Exchange(ref _stopped, 1) != 0)
        {
            return;
        }

        await _app.StopAsync().ConfigureAwait(false);
        _stopping.Cancel();
        try
        {
            await _probes.ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }

        await _app.DisposeAsync().ConfigureAwait(false);
        Router.Dispose();
        _forwarder.Dispose();
        _probeClient.Dispose();
        _stopping.Dispose();
    }

    public async ValueTask DisposeAsync() => await StopAsync().ConfigureAwait(false);

    /// <summary>
    /// A script hook call failed (the default policy decided it; under the router's lock): counted, and logged the
    /// first time for its hook and kind; a restart and giving up are always logged (bounded by the restarts).
    /// </summary>
    private void ScriptFailed(ScriptPolicy script, ScriptHookFailure failure)
    {
        Metrics.ScriptFailed(failure);
        var log = _options.Log ?? Console.Error;
        var at = failure.Diagnostic.Span;
        if (_loggedFailures.Add((failure.Hook, failure.Kind)))
        {
            log.WriteLine(DiagnosticCodes.ProxyScriptHookFailed.Create(at, failure.Hook, failure.Kind.ToString().ToLowerInvariant(), failure.Detail));
        }

        if (failure.Next == ScriptRecovery.Restarting)
        {
            log.WriteLine(DiagnosticCodes.ProxyScriptRestarted.Create(at, failure.Hook, script.Restarts, script.MaxRestarts));
        }
        else if (failure.Next == ScriptRecovery.Disabled)
        {
            log.WriteLine(DiagnosticCodes.ProxyScriptOff.Create(at, failure.Hook == "TopLevel"
                ? "its top level failed"
                : $"its script host died during {failure.Hook} and {(script.MaxRestarts == 0 ? "restarts are off" : $"its {script.MaxRestarts} restart(s) are used")}"));
        }
    }

    private void Map(WebApplication app)
    {
        app.MapGet("/health", () => Router.View.Prefill.Any(p => p.Up) ? Results.Ok() : Results.StatusCode(503));
        app.MapGet("/v1/models", () => Results.Text(new JsonObject
        {
            ["object"] = "list",
            ["data"] = new JsonArray(new JsonObject { ["id"] = _options.Model, ["object"] = "model", ["owned_by"] = "moeplan-proxy" }),
        }.ToJsonString(), "application/json"));
        app.MapGet("/metrics", async ctx =>
        {
            ctx.Response.ContentType = "text/plain; version=0.0.4; charset=utf-8";
            await Metrics.WriteAsync(ctx.Response.Body, ctx.RequestAborted).ConfigureAwait(false);
        });
        app.MapPost("/v1/completions", ctx => ServeAsync(ctx, chat: false));
        app.MapPost("/v1/chat/completions", ctx => ServeAsync(ctx, chat: true));
    }

    private async Task ServeAsync(HttpContext ctx, bool chat)
    {
        long arrived = Stopwatch.GetTimestamp();
        var body = await EmulatedEngine.ReadBodyAsync(ctx.Request).ConfigureAwait(false);
        var request = CompletionRequest.Parse(body, chat, out var error);
        if (request is null)
        {
            Metrics.Ended(RequestOutcome.Rejected);
            await EmulatedEngine.WriteJsonAsync(ctx, 400, CompletionResponses.Error(error!, "invalid_request_error", 400)).ConfigureAwait(false);
            return;
        }

        var state = new RequestState(request.ToArriving(Interlocked.Increment(ref _ids), Router.View.NowMilliseconds));
        if (!Router.Admit(state))
        {
            Metrics.Ended(RequestOutcome.Rejected);
            await Refuse(ctx, 429, "the scheduler's admission hook turned the request away").ConfigureAwait(false);
            return;
        }

        var exchange = new ClientExchange(ctx, request, arrived);
        var outcome = RequestOutcome.Failed;
        try
        {
            outcome = await _forwarder.ServeAsync(exchange, state).ConfigureAwait(false);
        }
        catch (ProxyQueueFullException)
        {
            outcome = RequestOutcome.Rejected;
            ctx.Response.Headers.RetryAfter = _options.RetryAfterSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
            await Refuse(ctx, 429, $"the proxy holds {_options.MaxHeld} requests already; retry later").ConfigureAwait(false);
        }
        catch (NoUpstreamException e) when (!exchange.Started)
        {
            await Refuse(ctx, 503, e.Message).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (ctx.RequestAborted.IsCancellationRequested)
        {
            // The client went away: the request ends failed (nothing more can reach it).
        }
        finally
        {
            Metrics.Ended(outcome);
        }
    }

    private static async Task Refuse(HttpContext ctx, int status, string message)
    {
        if (!ctx.Response.HasStarted && !ctx.RequestAborted.IsCancellationRequested)
        {
            await EmulatedEngine.WriteJsonAsync(ctx, status, CompletionResponses.Error(message, status == 429 ? "rate_limit_error" : "service_unavailable", status)).ConfigureAwait(false);
        }
    }

    /// <summary>Probes marked-down upstreams every probe interval; one that answers /health with 2xx is up again.</summary>
    private async Task ProbeAsync()
    {
        using var timer = new PeriodicTimer(_options.ProbeInterval);
        while (await timer.WaitForNextTickAsync(_stopping.Token).ConfigureAwait(false))
        {
            foreach (var u in _options.Upstreams.All)
            {
                if (Router.IsUp(u.Pool, u.Instance))
                {
                    continue;
                }

                try
                {
                    using var response = await _probeClient.GetAsync(new Uri(u.Url, "/health"), _stopping.Token).ConfigureAwait(false);
                    if (response.IsSuccessStatusCode)
                    {
                        Router.SetUp(u.Pool, u.Instance, true);
                        Metrics.Up(u, true);
                    }
                }
                catch (Exception e) when (e is HttpRequestException or TaskCanceledException && !_stopping.IsCancellationRequested)
                {
                    // Still down.
                }
            }
        }
    }
}
