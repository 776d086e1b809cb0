using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using MoePlan.Core.Diagnostics;
using MoePlan.Core.Plan;
using MoePlan.Proxy.Bench;
using MoePlan.Proxy.Engine;
using MoePlan.Proxy.Server;
using MoePlan.Serving.Proxy;
using MoePlan.Serving.Simulation;
using MoePlan.Tests.Support;

namespace MoePlan.Proxy.Tests;

/// <summary>Faults handled honestly: a dead prefill engine mid-run, a full queue, a shutdown with streams in flight.</summary>
public sealed class FaultTests
{
    private const double Speed = 20;

    /// <summary>
    /// The issue's done-when: 2 prefill + 2 decode emulated engines behind the proxy serve 300 requests of the Azure
    /// code trace (real; plans/data) replayed by the bench, streaming; prefill engine 0 is killed while it holds
    /// requests. Every request ends completed or failed, at least 90% complete, and /metrics counts the same.
    /// </summary>
    [Fact]
    public async Task KillingAPrefillEngineMidRunLosesNoRequest()
    {
        var plan = TestPlans.Plan(TestPlans.Tiny);
        await using var deployment = await EmulatedDeployment.StartAsync(plan, TestPlans.Tiny.Cost, RoutingPolicies.Create(plan.Proxy.Policy.Value), Speed, prefillInstances: 2, decodeInstances: 2,
            configure: o => o with { ProbeInterval = TimeSpan.FromMilliseconds(200), UpstreamTimeout = TimeSpan.FromSeconds(20) });
        var diagnostics = new List<Diagnostic>();
        var trace = new TraceFile(RepositoryPaths.PathOf("plans", "data", "azure_llm_inference_trace_code.csv"), TraceFormat.Azure);
        var requests = ServingRun.ReadTrace(trace, diagnostics).Take(300).ToList();
        Assert.Empty(diagnostics);

        var third = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var bench = LoadGenerator.RunAsync(new BenchOptions(deployment.Proxy.Address, requests) { Speed = Speed, RequestTimeout = TimeSpan.FromSeconds(60) }, n =>
        {
            if (n == 100)
            {
                third.TrySetResult();
            }
        });
        await third.Task.WaitAsync(TimeSpan.FromSeconds(60));
        // Killed while it holds requests, so some are in flight on it when it dies.
        var victim = deployment.Prefill[0];
        for (int i = 0; i < 2000 && victim.Batcher.Requests == 0; i++)
        {
            await Task.Delay(1);
        }

        Assert.True(victim.Batcher.Requests > 0, "prefill 0 never held a request");
        await victim.KillAsync();
        var result = await bench.WaitAsync(TimeSpan.FromSeconds(120));

        Assert.Equal(300, result.Records.Count);
        Assert.All(result.Records, r => Assert.NotNull(r));
        Assert.True(result.Completed >= 270, $"{result.Completed} of 300 completed; first errors: {string.Join("; ", result.Records.Where(r => !r.Completed).Take(3).Select(r => r.Error))}");
        Assert.All(result.Records.Where(r => r.Completed), r => Assert.Equal(requests.Single(q => q.Id == r.Id).OutputTokens, r.OutputTokens));

        var metrics = deployment.Proxy.Metrics;
        Assert.Equal(result.Completed, metrics.Count(RequestOutcome.Completed));
        Assert.Equal(result.Failed, metrics.Count(RequestOutcome.Failed) + metrics.Count(RequestOutcome.Rejected));
        using var client = new HttpClient { BaseAddress = deployment.Proxy.Address };
        var text = await client.GetStringAsync(new Uri("/metrics", UriKind.Relative));
        Assert.Contains($"moeplan_proxy_requests_total{{outcome=\"completed\"}} {result.Completed}\n", text);
        Assert.Contains("moeplan_proxy_upstream_up{upstream=\"prefill-0\"} 0\n", text);
        Assert.Contains("moeplan_proxy_upstream_up{upstream=\"prefill-1\"} 1\n", text);
        Assert.True(metrics.Retries.Value >= 1, "the requests on the dead engine were not retried");
        // Every completed request was decoded by a decode engine (P/D, not whole on a prefill engine).
        Assert.Equal(result.Completed, deployment.Decode.Sum(e => e.Completed));
    }

    [Fact]
    public async Task BeyondTheQueueBoundClientsGet429WithRetryAfter()
    {
        var plan = TestPlans.Plan(TestPlans.Tiny);
        await using var deployment = await EmulatedDeployment.StartAsync(plan, TestPlans.Tiny.Cost, new HoldingPolicy(), Speed, configure: o => o with { MaxHeld = 1, RetryAfterSeconds = 3 });
        using var client = new HttpClient { BaseAddress = deployment.Proxy.Address };
        using var firstCancel = new CancellationTokenSource();
        var held = client.PostAsync(new Uri("/v1/completions", UriKind.Relative), Body(), firstCancel.Token);
        for (int i = 0; i < 2000 && deployment.Proxy.Router.Held == 0; i++)
        {
            await Task.Delay(1);
        }

        Assert.Equal(1, deployment.Proxy.Router.Held);
        using var refused = await client.PostAsync(new Uri("/v1/completions", UriKind.Relative), Body());
        Assert.Equal(HttpStatusCode.TooManyRequests, refused.StatusCode);
        Assert.Equal(TimeSpan.FromSeconds(3), refused.Headers.RetryAfter?.Delta);

        // The held client gives up: its request ends failed, not lost.
        await firstCancel.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => held);
        for (int i = 0; i < 2000 && deployment.Proxy.Metrics.Count(RequestOutcome.Failed) == 0; i++)
        {
            await Task.Delay(1);
        }

        Assert.Equal(1, deployment.Proxy.Metrics.Count(RequestOutcome.Rejected));
        Assert.Equal(1, deployment.Proxy.Metrics.Count(RequestOutcome.Failed));
        Assert.Equal(0, deployment.Proxy.Router.Held);
    }

    [Fact]
    public async Task StoppingTheProxyDrainsStreamsInFlight()
    {
        var plan = TestPlans.Plan(TestPlans.Tiny);
        await using var deployment = await EmulatedDeployment.StartAsync(plan, TestPlans.Tiny.Cost, RoutingPolicies.Create("round-robin"), Speed);
        using var client = new HttpClient { BaseAddress = deployment.Proxy.Address };
        var stream = LiveDeploymentTests.StreamAsync(client, "/v1/completions", new JsonObject { ["model"] = "m", ["prompt"] = "drain me", ["max_tokens"] = 40, ["stream"] = true });
        for (int i = 0; i < 2000 && deployment.Decode[0].Batcher.Requests == 0; i++)
        {
            await Task.Delay(1);
        }

        var stopping = deployment.Proxy.StopAsync();
        var (text, done) = await stream;
        await stopping;
        Assert.True(done);
        Assert.Equal(40, text.Length / Protocol.CompletionResponses.TokenText.Length);
        Assert.Equal(1, deployment.Proxy.Metrics.Count(RequestOutcome.Completed));
    }

    private static StringContent Body() =>
        new(new JsonObject { ["model"] = "m", ["prompt"] = "hello", ["max_tokens"] = 2 }.ToJsonString(), Encoding.UTF8, "application/json");

    /// <summary>A policy that holds every request (as Omni does with every prefill upstream at its caps).</summary>
    private sealed class HoldingPolicy : IRoutingPolicy
    {
        public string Name => "hold";

        public bool WeightedPrefillQueue => false;

        public int ChoosePrefill(RequestState request, IClusterView view) => -1;

        public int ChooseDecode(RequestState request, IClusterView view) => -1;
    }
}
