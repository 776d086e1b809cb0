using System.Net;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using MoePlan.Core.Plan;
using MoePlan.Proxy.Routing;
using MoePlan.Proxy.Server;
using MoePlan.Serving.Proxy;
using MoePlan.Serving.Simulation;

namespace MoePlan.Proxy.Tests;

/// <summary>
/// The proxy relays an upstream's SSE stream as its bytes come (not line by line): whatever way the upstream cuts it
/// into writes, the client gets the same bytes, and the proxy still counts its token events and sees its end.
/// </summary>
public sealed class StreamRelayTests
{
    private const string First = "data: {\"choices\":[{\"index\":0,\"text\":\" a\"}]}";
    private const string Second = "data: {\"choices\":[{\"index\":0,\"text\":\" b\"}]}";
    private const string Usage = "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":4,\"completion_tokens\":2}}";

    public static TheoryData<string[]> Cuts => new()
    {
        // One write: every event in one read.
        new[] { First + "\n\n" + Second + "\n\n" + "data: [DONE]\n\n" },
        // Cut inside lines, inside a CRLF and between an event's line and its blank line; CRLF and lone CR line ends.
        new[] { First + "\r", "\n\r\nda", "ta: {\"choices\":[{\"index\":0,\"te", "xt\":\" b\"}]}\r\r", ": comment\n\ndata: [DO", "NE]\n\n" },
        // The usage chunk, and a last line without its end.
        new[] { First + "\n\n", Second + "\n\n", Usage + "\n\n", "data: [DONE]" },
    };

    [Theory]
    [MemberData(nameof(Cuts))]
    public async Task TheClientGetsTheUpstreamsBytesAndTheProxyCountsTheEvents(string[] writes)
    {
        await using var upstream = await CutUpstream.StartAsync(writes);
        var list = new UpstreamList([new Upstream(PoolRole.Prefill, 0, upstream.Address)], []);
        var config = new ServingConfig(2, 1 << 30, 1 << 20, 1, int.MaxValue, double.MaxValue, 1, 0, 1, ProxyMode.Sequential, false, false, 0, null, null);
        await using var proxy = await ProxyServer.StartAsync(new ProxyOptions(list, EngineKind.Vllm, ProxyMode.Sequential, config with { PrefillInstances = 1, DecodeInstances = 0 }, "m"), RoutingPolicies.Create("round-robin"));
        using var client = new HttpClient { BaseAddress = proxy.Address, Timeout = TimeSpan.FromSeconds(30) };
        using var response = await client.PostAsync(new Uri("/v1/completions", UriKind.Relative), new StringContent("{\"model\":\"m\",\"prompt\":\"Hi\",\"max_tokens\":2,\"stream\":true}", Encoding.UTF8, "application/json"));
        string body = await response.Content.ReadAsStringAsync();

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
        // The upstream's bytes; a last line without its end gets one.
        string sent = string.Concat(writes);
        Assert.Equal(sent.EndsWith('\n') ? sent : sent + "\n", body);
        Assert.Equal(1, proxy.Metrics.Count(RequestOutcome.Completed));
        // Two token events (the usage chunk says two as well): a TTFT and a TPOT observed.
        Assert.Equal(1, proxy.Metrics.Ttft.Count);
        Assert.Equal(1, proxy.Metrics.Tpot.Count);
    }

    [Fact]
    public async Task AStreamThatEndsWithoutDoneFailsAfterItsTokensWereRelayed()
    {
        await using var upstream = await CutUpstream.StartAsync([First + "\n\n"]);
        var list = new UpstreamList([new Upstream(PoolRole.Prefill, 0, upstream.Address)], []);
        var config = new ServingConfig(2, 1 << 30, 1 << 20, 1, int.MaxValue, double.MaxValue, 1, 0, 1, ProxyMode.Sequential, false, false, 0, null, null);
        await using var proxy = await ProxyServer.StartAsync(new ProxyOptions(list, EngineKind.Vllm, ProxyMode.Sequential, config with { PrefillInstances = 1, DecodeInstances = 0 }, "m"), RoutingPolicies.Create("round-robin"));
        using var client = new HttpClient { BaseAddress = proxy.Address, Timeout = TimeSpan.FromSeconds(30) };
        using var response = await client.PostAsync(new Uri("/v1/completions", UriKind.Relative), new StringContent("{\"prompt\":\"Hi\",\"stream\":true}", Encoding.UTF8, "application/json"));
        string body = await response.Content.ReadAsStringAsync();

        // The token reached the client, so no retry: the stream's error event and [DONE] follow it, and the request failed.
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.StartsWith(First + "\n\ndata: {\"error\"", body, StringComparison.Ordinal);
        Assert.EndsWith("data: [DONE]\n\n", body, StringComparison.Ordinal);
        Assert.Equal(1, proxy.Metrics.Count(RequestOutcome.Failed));
        Assert.Equal(0, proxy.Metrics.Retries.Value);
    }

    /// <summary>An upstream that answers every completion with the given writes, each flushed, a little apart.</summary>
    private sealed class CutUpstream : IAsyncDisposable
    {
        private readonly WebApplication _app;

        private CutUpstream(WebApplication app, Uri address)
        {
            _app = app;
            Address = address;
        }

        public Uri Address { get; }

        public static async Task<CutUpstream> StartAsync(string[] writes)
        {
            var builder = WebApplication.CreateSlimBuilder();
            builder.Logging.ClearProviders();
            builder.WebHost.UseKestrel(k => k.Listen(IPAddress.Loopback, 0));
            var app = builder.Build();
            app.MapPost("/v1/completions", async ctx =>
            {
                ctx.Response.ContentType = "text/event-stream";
                foreach (var w in writes)
                {
                    await ctx.Response.WriteAsync(w);
                    await ctx.Response.Body.FlushAsync();
                    await Task.Delay(20);
                }
            });
            await app.StartAsync();
            return new CutUpstream(app, new Uri(app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First()));
        }

        public async ValueTask DisposeAsync()
        {
            await _app.StopAsync();
            await _app.DisposeAsync();
        }
    }
}
