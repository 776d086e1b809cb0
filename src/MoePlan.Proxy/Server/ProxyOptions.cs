using MoePlan.Core.Plan;
using MoePlan.Proxy.Routing;
using MoePlan.Serving.Simulation;

namespace MoePlan.Proxy.Server;

/// <summary>
/// A live proxy: its upstreams, the engine protocol and P/D mode of the plan, the plan's deployment figures (the
/// policies' caps and the cache record's size), and its fault handling.
/// </summary>
public sealed record ProxyOptions(UpstreamList Upstreams, EngineKind Protocol, ProxyMode Mode, ServingConfig Config, string Model)
{
    public string Host { get; init; } = "127.0.0.1";

    /// <summary>0: any free port.</summary>
    public int Port { get; init; }

    /// <summary>Requests the proxy holds (waiting for an upstream) at most; beyond, 429 with Retry-After.</summary>
    public int MaxHeld { get; init; } = 1024;

    /// <summary>Seconds a 429 asks the client to wait.</summary>
    public int RetryAfterSeconds { get; init; } = 1;

    /// <summary>Attempts per request, each on a freshly routed upstream, while nothing has been streamed to the client.</summary>
    public int MaxAttempts { get; init; } = 3;

    /// <summary>An upstream that sends no response headers (or, streaming, no line) for this long is timed out and marked down.</summary>
    public TimeSpan UpstreamTimeout { get; init; } = TimeSpan.FromSeconds(60);

    public TimeSpan ConnectTimeout { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>How often marked-down upstreams are probed (GET /health) to bring them back.</summary>
    public TimeSpan ProbeInterval { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>Where the proxy logs what it keeps serving through (a scheduler script's failures); null: standard error.</summary>
    public TextWriter? Log { get; init; }

    /// <summary>How long a shutdown waits for in-flight streams to finish.</summary>
    public TimeSpan DrainTimeout { get; init; } = TimeSpan.FromSeconds(30);
}
