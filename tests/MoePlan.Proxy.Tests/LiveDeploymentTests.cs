using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using MoePlan.Core.Plan;
using MoePlan.Proxy.Engine;
using MoePlan.Proxy.Protocol;
using MoePlan.Serving.Proxy;

namespace MoePlan.Proxy.Tests;

/// <summary>
/// Emulated engines behind the live proxy on 127.0.0.1: requests stream through both engine protocols' P/D flows and
/// without disaggregation, and the proxy's /metrics counts them. Expected token counts are the requests' max_tokens
/// (the emulator generates exactly that many, as vLLM with ignore_eos does).
/// </summary>
public sealed class LiveDeploymentTests
{
    /// <summary>The tiny plan's steps run 20x faster than the cost model says.</summary>
    private const double Speed = 20;

    [Theory]
    [InlineData(EngineKind.Vllm, ProxyMode.Sequential)]
    [InlineData(EngineKind.Vllm, ProxyMode.Parallel)]
    [InlineData(EngineKind.Sglang, ProxyMode.Parallel)]
    public async Task DisaggregatedRequestsGoThroughPrefillThenDecode(EngineKind protocol, ProxyMode mode)
    {
        var plan = TestPlans.Plan(TestPlans.Tiny) with { Engine = new Sourced<EngineKind>(protocol, default) };
        plan = plan with { Proxy = plan.Proxy with { Mode = new Sourced<ProxyMode>(mode, default) } };
        await using var deployment = await EmulatedDeployment.StartAsync(plan, TestPlans.Tiny.Cost, RoutingPolicies.Create("round-robin"), Speed);
        using var client = new HttpClient { BaseAddress = deployment.Proxy.Address, Timeout = TimeSpan.FromSeconds(60) };

        var streamed = await StreamAsync(client, "/v1/completions", new JsonObject { ["model"] = "m", ["prompt"] = "Tell me about mixture-of-experts models.", ["max_tokens"] = 7, ["stream"] = true });
        Assert.Equal(string.Concat(Enumerable.Repeat(CompletionResponses.TokenText, 7)), streamed.Text);
        Assert.True(streamed.Done);

        var chat = await PostAsync(client, "/v1/chat/completions", new JsonObject
        {
            ["model"] = "m",
            ["messages"] = new JsonArray(new JsonObject { ["role"] = "user", ["content"] = "Hello" }),
            ["max_tokens"] = 5,
        });
        Assert.Equal(5, chat["usage"]!["completion_tokens"]!.GetValue<int>());

        // Each request was prefilled on the prefill engine and decoded on the decode engine (P/D, not whole on one).
        Assert.Equal(2, deployment.Prefill[0].Completed);
        Assert.Equal(2, deployment.Decode[0].Completed);
        Assert.Equal(0, deployment.Decode[0].Batcher.PrefillSteps);
        var metrics = await client.GetStringAsync(new Uri("/metrics", UriKind.Relative));
        Assert.Contains("moeplan_proxy_requests_total{outcome=\"completed\"} 2", metrics);
        Assert.Contains("moeplan_proxy_ttft_seconds_count 1", metrics);
    }

    [Fact]
    public async Task WithoutDecodeUpstreamsTheWholeRequestGoesToOneInstance()
    {
        var plan = TestPlans.Plan(TestPlans.Tiny);
        await using var deployment = await EmulatedDeployment.StartAsync(plan, TestPlans.Tiny.Cost, RoutingPolicies.Create("least-load"), Speed, prefillInstances: 2, decodeInstances: 0);
        using var client = new HttpClient { BaseAddress = deployment.Proxy.Address, Timeout = TimeSpan.FromSeconds(60) };
        var streamed = await StreamAsync(client, "/v1/chat/completions", new JsonObject
        {
            ["model"] = "m",
            ["messages"] = new JsonArray(new JsonObject { ["role"] = "user", ["content"] = "Hi" }),
            ["max_tokens"] = 4,
            ["stream"] = true,
        });
        Assert.Equal(string.Concat(Enumerable.Repeat(CompletionResponses.TokenText, 4)), streamed.Text);
        Assert.Equal(1, deployment.Prefill.Sum(e => e.Completed));
        Assert.Equal(1, deployment.Prefill.Sum(e => e.Batcher.DecodeSteps) > 0 ? 1 : 0);
    }

    [Fact]
    public async Task BadBodiesGet400AndCountAsRejected()
    {
        var plan = TestPlans.Plan(TestPlans.Tiny);
        await using var deployment = await EmulatedDeployment.StartAsync(plan, TestPlans.Tiny.Cost, RoutingPolicies.Create("omni"), Speed);
        using var client = new HttpClient { BaseAddress = deployment.Proxy.Address, Timeout = TimeSpan.FromSeconds(30) };
        using var response = await client.PostAsync(new Uri("/v1/completions", UriKind.Relative), new StringContent("{\"prompt\": 3}", Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains("prompt", await response.Content.ReadAsStringAsync());
        var metrics = await client.GetStringAsync(new Uri("/metrics", UriKind.Relative));
        Assert.Contains("moeplan_proxy_requests_total{outcome=\"rejected\"} 1", metrics);
    }

    internal static async Task<JsonNode> PostAsync(HttpClient client, string path, JsonObject body)
    {
        using var response = await client.PostAsync(new Uri(path, UriKind.Relative), new StringContent(body.ToJsonString(), Encoding.UTF8, "application/json"));
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, $"{(int)response.StatusCode}: {text}");
        return JsonNode.Parse(text)!;
    }

    internal static async Task<(string Text, bool Done)> StreamAsync(HttpClient client, string path, JsonObject body)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(path, UriKind.Relative)) { Content = new StringContent(body.ToJsonString(), Encoding.UTF8, "application/json") };
        using var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
        var text = new StringBuilder();
        bool done = false;
        while (await reader.ReadLineAsync() is { } line)
        {
            if (!line.StartsWith("data: ", StringComparison.Ordinal))
            {
                continue;
            }

            if (line == "data: [DONE]")
            {
                done = true;
                continue;
            }

            text.Append(CompletionResponses.ChoiceText(JsonNode.Parse(line[6..])));
        }

        return (text.ToString(), done);
    }
}
