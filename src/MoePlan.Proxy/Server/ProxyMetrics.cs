using MoePlan.Proxy.Routing;
using MoePlan.Scripting;
using Prometheus;

namespace MoePlan.Proxy.Server;

/// <summary>How a request through the proxy ended; each one ends in exactly one.</summary>
public enum RequestOutcome
{
    Completed,

    /// <summary>Accepted, then lost: every attempt failed, or an upstream died after tokens were streamed.</summary>
    Failed,

    /// <summary>Turned away up front: queue full (429), the policy's admission hook, no upstream up (503), or a bad body (400).</summary>
    Rejected,
}

/// <summary>
/// The proxy's <c>/metrics</c> (Prometheus text format, prometheus-net, one registry per proxy): TTFT, TPOT and E2E
/// histograms, requests by outcome, retries, per-upstream in-flight requests and up state, the APC hit ratio of the
/// proxy's cache record, and requests held in the proxy. With a scheduler script: its failed hook calls by hook and
/// kind, its script host's restarts, and whether it decides now.
/// </summary>
public sealed class ProxyMetrics
{
    // Seconds: 1 ms to 60 s, about x2 apart (TTFT and E2E); TPOT 1 ms to 2 s.
    private static readonly double[] LatencyBuckets = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];
    private static readonly double[] TpotBuckets = [0.001, 0.0025, 0.005, 0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1, 2];

    private readonly Counter _requests;
    private readonly Gauge _inFlight;
    private readonly Gauge _up;
    private readonly Counter? _scriptFailures;

    // The labelled series the proxy touches per request, looked up once (not a label array and a lookup per request).
    private readonly Counter.Child[] _byOutcome;
    private readonly Dictionary<Upstream, Gauge.Child> _inFlightOf = new(ReferenceEqualityComparer.Instance);

    public ProxyMetrics(ProxyRouter router, UpstreamList upstreams)
    {
        ArgumentNullException.ThrowIfNull(router);
        ArgumentNullException.ThrowIfNull(upstreams);
        Registry = Metrics.NewCustomRegistry();
        var factory = Metrics.WithCustomRegistry(Registry);
        Ttft = factory.CreateHistogram("moeplan_proxy_ttft_seconds", "Time to first token of streamed requests, at the proxy.", new HistogramConfiguration { Buckets = LatencyBuckets });
        Tpot = factory.CreateHistogram("moeplan_proxy_tpot_seconds", "Time per output token after the first, per streamed request.", new HistogramConfiguration { Buckets = TpotBuckets });
        E2e = factory.CreateHistogram("moeplan_proxy_e2e_seconds", "End-to-end latency of completed requests, at the proxy.", new HistogramConfiguration { Buckets = LatencyBuckets });
        Overhead = factory.CreateHistogram("moeplan_proxy_routing_seconds", "Time from a request's arrival to its first upstream send (parse, tokenise, route; held time included).", new HistogramConfiguration { Buckets = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.1, 1, 10] });
        _requests = factory.CreateCounter("moeplan_proxy_requests_total", "Requests by how they ended.", new CounterConfiguration { LabelNames = ["outcome"] });
        Retries = factory.CreateCounter("moeplan_proxy_retries_total", "Attempts retried on another upstream after a failure before any token was streamed.");
        _inFlight = factory.CreateGauge("moeplan_proxy_upstream_in_flight", "Requests in flight on each upstream.", new GaugeConfiguration { LabelNames = ["upstream"] });
        _up = factory.CreateGauge("moeplan_proxy_upstream_up", "1 when the upstream is up, 0 when marked down.", new GaugeConfiguration { LabelNames = ["upstream"] });
        _byOutcome = [.. Enum.GetValues<RequestOutcome>().Select(outcome => _requests.WithLabels(Label(outcome)))];
        foreach (var child in _byOutcome)
        {
            child.IncTo(0);
        }

        foreach (var u in upstreams.All)
        {
            _inFlightOf[u] = _inFlight.WithLabels(u.Name);
            _inFlightOf[u].Set(0);
            _up.WithLabels(u.Name).Set(1);
        }

        var apc = factory.CreateGauge("moeplan_proxy_apc_hit_ratio", "Prompt tokens the prefix caches serve over prompt tokens routed (the proxy's record of the caches).");
        var held = factory.CreateGauge("moeplan_proxy_held_requests", "Requests waiting in the proxy for an upstream under its caps or with room.");
        Registry.AddBeforeCollectCallback(() =>
        {
            apc.Set(router.ApcHitRatio);
            held.Set(router.Held);
        });
        var scripts = router.Policies.OfType<ScriptPolicy>().ToArray();
        if (scripts.Length > 0)
        {
            _scriptFailures = factory.CreateCounter("moeplan_proxy_script_failures_total", "Scheduler script hook calls that failed and took the default policy's decision, by hook (TopLevel: the script's top level) and kind (timeout, memory, stack, crash, exception, invalid).", new CounterConfiguration { LabelNames = ["hook", "kind"] });
            var active = factory.CreateGauge("moeplan_proxy_script_active", "1 while the scheduler script decides (in every worker); 0 while a script host starts again or after the proxy gave up on it (the default policy decides).");
            var restarts = factory.CreateCounter("moeplan_proxy_script_restarts_total", "Script hosts started again after one died (crashed, or killed past its deadline).");
            Registry.AddBeforeCollectCallback(() =>
            {
                active.Set(scripts.All(s => s.Active) ? 1 : 0);
                restarts.IncTo(scripts.Sum(s => s.Restarts));
            });
        }
    }

    public CollectorRegistry Registry { get; }

    public Histogram Ttft { get; }

    public Histogram Tpot { get; }

    public Histogram E2e { get; }

    public Histogram Overhead { get; }

    public Counter Retries { get; }

    public void Ended(RequestOutcome outcome) => _byOutcome[(int)outcome].Inc();

    public double Count(RequestOutcome outcome) => _byOutcome[(int)outcome].Value;

    public void InFlight(Upstream upstream, int delta) => (_inFlightOf.TryGetValue(upstream, out var child) ? child : _inFlight.WithLabels(upstream.Name)).Inc(delta);

    /// <summary>A script hook call failed (the default policy decided it).</summary>
    public void ScriptFailed(ScriptHookFailure failure)
    {
        ArgumentNullException.ThrowIfNull(failure);
        _scriptFailures?.WithLabels(failure.Hook, failure.Kind.ToString().ToLowerInvariant()).Inc();
    }

    /// <summary>Failed script hook calls counted, over every hook and kind.</summary>
    public double ScriptFailures => _scriptFailures is { } c ? c.GetAllLabelValues().Sum(l => c.WithLabels(l).Value) : 0;

    public void Up(Upstream upstream, bool up) => _up.WithLabels(upstream.Name).Set(up ? 1 : 0);

    public async Task WriteAsync(Stream to, CancellationToken cancellation) => await Registry.CollectAndExportAsTextAsync(to, cancellation).ConfigureAwait(false);

    private static string Label(RequestOutcome outcome) => outcome.ToString().ToLowerInvariant();
}
