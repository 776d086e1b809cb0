using System.Diagnostics;
using System.Net.Http.Headers;
using System.Text.Json;
using System.Text.Json.Nodes;
using MoePlan.Core.Workloads;
using MoePlan.Proxy.Protocol;

namespace MoePlan.Proxy.Bench;

/// <summary>What <c>moeplan bench</c> replays and where.</summary>
/// <param name="Url">The server's base URL (a proxy or one engine); requests go to its /v1/completions.</param>
/// <param name="Requests">The trace's requests, in arrival order.</param>
public sealed record BenchOptions(Uri Url, IReadOnlyList<ArrivingRequest> Requests)
{
    /// <summary>The trace's time runs this many times faster (arrivals at timestamp / speed).</summary>
    public double Speed { get; init; } = 1;

    /// <summary>The model name sent; null: the first of the server's /v1/models.</summary>
    public string? Model { get; init; }

    /// <summary>A request that has not finished after this long is failed.</summary>
    public TimeSpan RequestTimeout { get; init; } = TimeSpan.FromMinutes(10);
}

/// <summary>
/// <c>moeplan bench</c>'s load generator: sends each request of a trace at its timestamp (divided by the speed) as a
/// streamed <c>/v1/completions</c> with the trace's prompt (<see cref="TracePrompts"/>) and output length
/// (<c>max_tokens</c>, <c>ignore_eos</c>), reads the SSE stream, and records when each token event came
/// (<see cref="BenchRecord"/>). Requests are sent open-loop: a slow server does not slow the arrivals.
/// </summary>
public static class LoadGenerator
{
    private static readonly MediaTypeHeaderValue Json = new("application/json");

    /// <param name="progress">Called with the number of requests finished (completed or failed) after each one.</param>
    public static async Task<BenchResult> RunAsync(BenchOptions options, Action<int>? progress = null, CancellationToken cancellation = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (!(options.Speed > 0) || double.IsInfinity(options.Speed))
        {
            throw new ArgumentOutOfRangeException(nameof(options), options.Speed, "the speed factor must be a positive number");
        }

        using var client = new HttpClient(new SocketsHttpHandler
        {
            UseProxy = false,
            MaxConnectionsPerServer = int.MaxValue,
            ConnectTimeout = TimeSpan.FromSeconds(5),
            PooledConnectionIdleTimeout = TimeSpan.FromMinutes(1),
        })
        { BaseAddress = options.Url, Timeout = Timeout.InfiniteTimeSpan };
        string model = options.Model ?? await ModelAsync(client, cancellation).ConfigureAwait(false);

        // Bodies made before the clock starts: building a long prompt must not delay the arrivals after it.
        var bodies = options.Requests.Select(r => Body(r, model)).ToArray();
        var records = new BenchRecord[options.Requests.Count];
        var tasks = new List<Task>(records.Length);
        int finished = 0;
        double first = options.Requests.Count > 0 ? options.Requests[0].ArrivalMilliseconds : 0;
        var clock = Stopwatch.StartNew();
        for (int i = 0; i < records.Length; i++)
        {
            double due = (options.Requests[i].ArrivalMilliseconds - first) / options.Speed;
            double wait = due - clock.Elapsed.TotalMilliseconds;
            if (wait > 1)
            {
                await Task.Delay(TimeSpan.FromMilliseconds(wait), cancellation).ConfigureAwait(false);
            }

            int index = i;
            tasks.Add(Task.Run(
                async () =>
                {
                    records[index] = await SendAsync(client, options, options.Requests[index], bodies[index], clock, cancellation).ConfigureAwait(false);
                    progress?.Invoke(Interlocked.Increment(ref finished));
                },
                CancellationToken.None));
        }

        await Task.WhenAll(tasks).ConfigureAwait(false);
        return new BenchResult(options.Url, model, options.Speed, records, clock.Elapsed.TotalSeconds);
    }

    private static byte[] Body(ArrivingRequest r, string model) => JsonSerializer.SerializeToUtf8Bytes(new JsonObject
    {
        ["model"] = model,
        ["prompt"] = new JsonArray([.. TracePrompts.TokenIds(r).Select(id => (JsonNode)id)]),
        ["max_tokens"] = r.OutputTokens,
        // The trace's output length exactly, as vLLM's bench does with ignore_eos.
        ["ignore_eos"] = true,
        ["stream"] = true,
        ["stream_options"] = new JsonObject { ["include_usage"] = true },
    });

    private static async Task<string> ModelAsync(HttpClient client, CancellationToken cancellation)
    {
        try
        {
            var models = JsonNode.Parse(await client.GetStringAsync(new Uri("/v1/models", UriKind.Relative), cancellation).ConfigureAwait(false));
            return models?["data"]?[0]?["id"]?.ToString() ?? throw new BenchException($"{client.BaseAddress}v1/models lists no model");
        }
        catch (Exception e) when (e is HttpRequestException or JsonException or TaskCanceledException && !cancellation.IsCancellationRequested)
        {
            throw new BenchException($"cannot ask {client.BaseAddress} for its model (/v1/models): {e.Message}");
        }
    }

    private static async Task<BenchRecord> SendAsync(HttpClient client, BenchOptions options, ArrivingRequest r, byte[] body, Stopwatch clock, CancellationToken cancellation)
    {
        double sent = clock.Elapsed.TotalSeconds, ttft = double.NaN, last = double.NaN;
        var itls = new List<double>();
        int output = 0, cached = 0, events = 0;
        bool done = false;
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellation);
        timeout.CancelAfter(options.RequestTimeout);
        try
        {
            using var message = new HttpRequestMessage(HttpMethod.Post, new Uri("/v1/completions", UriKind.Relative)) { Content = new ByteArrayContent(body) { Headers = { ContentType = Json } } };
            using var response = await client.SendAsync(message, HttpCompletionOption.ResponseHeadersRead, timeout.Token).ConfigureAwait(false);
            if (!response.IsSuccessStatusCode)
            {
                string text = await response.Content.ReadAsStringAsync(timeout.Token).ConfigureAwait(false);
                return Failed($"HTTP {(int)response.StatusCode}: {Excerpt(text)}");
            }

            using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(timeout.Token).ConfigureAwait(false));
            while (await reader.ReadLineAsync(timeout.Token).ConfigureAwait(false) is { } line)
            {
                if (!line.StartsWith("data:", StringComparison.Ordinal))
                {
                    continue;
                }

                var data = line.AsSpan(5).Trim();
                if (data.SequenceEqual("[DONE]"))
                {
                    done = true;
                    break;
                }

                var chunk = JsonNode.Parse(data.ToString());
                if (chunk?["error"] is JsonNode error)
                {
                    return Failed($"error event: {Excerpt(error.ToJsonString())}");
                }

                if (chunk?["usage"] is JsonObject usage)
                {
                    output = usage["completion_tokens"]?.GetValue<int>() ?? output;
                    cached = usage["prompt_tokens_details"]?["cached_tokens"]?.GetValue<int>() ?? 0;
                }

                if (CompletionResponses.ChoiceText(chunk).Length > 0)
                {
                    double now = clock.Elapsed.TotalSeconds;
                    if (events++ == 0)
                    {
                        ttft = now - sent;
                    }
                    else
                    {
                        itls.Add(now - last);
                    }

                    last = now;
                }
            }
        }
        catch (Exception e) when (e is HttpRequestException or IOException or JsonException or InvalidOperationException || (e is OperationCanceledException && !cancellation.IsCancellationRequested))
        {
            return Failed(e is OperationCanceledException ? $"no answer within {options.RequestTimeout.TotalSeconds:0} s" : e.Message);
        }

        if (!done || events == 0)
        {
            return Failed(done ? "the stream carried no token" : "the stream ended without [DONE]");
        }

        return new BenchRecord(r.Id, sent, r.InputTokens, output > 0 ? output : events, cached, ttft, itls, last - sent, null);

        BenchRecord Failed(string why) => new(r.Id, sent, r.InputTokens, 0, 0, double.NaN, [], clock.Elapsed.TotalSeconds - sent, why);
    }

    private static string Excerpt(string text) => text.Length <= 200 ? text : text[..200] + "...";
}

/// <summary>The bench cannot run (the server cannot be reached, or names no model).</summary>
public sealed class BenchException(string message) : Exception(message);
