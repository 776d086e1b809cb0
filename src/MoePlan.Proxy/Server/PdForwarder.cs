using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http;
using MoePlan.Core.Plan;
using MoePlan.Proxy.Routing;
using MoePlan.Serving.Proxy;

namespace MoePlan.Proxy.Server;

/// <summary>
/// Forwards one request with the engine's P/D protocol, as the engines' own routers do:
/// <list type="bullet">
/// <item>No decode upstreams: the whole request to the chosen instance.</item>
/// <item>vLLM (and Omni-Infer, which serves vLLM's API): the prefill instance first with <c>max_tokens</c> 1,
/// <c>stream</c> false and <c>kv_transfer_params</c> <c>{"do_remote_decode": true, ...}</c>, then the decode instance with
/// the original request and the <c>kv_transfer_params</c> the prefill returned (vLLM's disaggregated-serving proxy
/// example). In sequential mode the decode instance is chosen when the prefill is done; in parallel mode its slot is
/// reserved before the prefill starts (the simulation's two modes).</item>
/// <item>SGLang: the same request, with <c>bootstrap_host</c>, <c>bootstrap_port</c> and a random <c>bootstrap_room</c>,
/// to the prefill and the decode instance at once; the decode's response goes to the client (<c>sglang_router
/// --pd-disaggregation</c>). Both are chosen up front: SGLang's decode must join the room while the prefill runs, so its
/// protocol is always the parallel mode.</item>
/// </list>
/// </summary>
internal sealed class PdForwarder : IDisposable
{
    private static readonly MediaTypeHeaderValue Json = new("application/json");

    private readonly ProxyOptions _options;
    private readonly ProxyRouter _router;
    private readonly ProxyMetrics _metrics;
    private readonly HttpClient _client;

    public PdForwarder(ProxyOptions options, ProxyRouter router, ProxyMetrics metrics)
    {
        _options = options;
        _router = router;
        _metrics = metrics;
        _client = new HttpClient(new SocketsHttpHandler
        {
            ConnectTimeout = options.ConnectTimeout,
            UseProxy = false,
            AutomaticDecompression = DecompressionMethods.None,
            PooledConnectionIdleTimeout = TimeSpan.FromMinutes(1),
            MaxConnectionsPerServer = int.MaxValue,
        })
        { Timeout = Timeout.InfiniteTimeSpan };
    }

    public void Dispose() => _client.Dispose();

    /// <summary>Serves the request over up to <see cref="ProxyOptions.MaxAttempts"/> attempts; its outcome.</summary>
    public async Task<RequestOutcome> ServeAsync(ClientExchange exchange, RequestState state)
    {
        UpstreamFailure? last = null;
        for (int attempt = 0; attempt < _options.MaxAttempts; attempt++)
        {
            if (attempt > 0)
            {
                _metrics.Retries.Inc();
            }

            try
            {
                return await AttemptAsync(exchange, state).ConfigureAwait(false);
            }
            catch (UpstreamFailure f)
            {
                last = f;
                if (f.MarkDown)
                {
                    _router.SetUp(f.Upstream.Pool, f.Upstream.Instance, false);
                    _metrics.Up(f.Upstream, false);
                }

                if (exchange.Started)
                {
                    await exchange.WriteErrorEventAsync($"{f.Upstream.Name} failed after the response started: {f.Message}").ConfigureAwait(false);
                    return RequestOutcome.Failed;
                }
            }
        }

        await exchange.WriteErrorAsync(502, $"{_options.MaxAttempts} attempt(s) failed; last: {last!.Upstream.Name}: {last.Message}").ConfigureAwait(false);
        return RequestOutcome.Failed;
    }

    private async Task<RequestOutcome> AttemptAsync(ClientExchange exchange, RequestState state)
    {
        var ct = exchange.Aborted;
        var upstreams = _options.Upstreams;
        bool sglang = _options.Protocol == EngineKind.Sglang;
        bool decodeFirst = upstreams.Disaggregated && (sglang || _options.Mode == ProxyMode.Parallel);
        int d = -1;
        if (decodeFirst)
        {
            d = await _router.RouteDecodeAsync(state, ct).ConfigureAwait(false);
        }

        int p;
        try
        {
            p = await _router.RoutePrefillAsync(state, ct).ConfigureAwait(false);
        }
        catch
        {
            if (d >= 0)
            {
                _router.DecodeFinished(state);
            }

            throw;
        }

        _metrics.Overhead.Observe(exchange.ElapsedSeconds);
        var prefill = upstreams.Prefill[p];
        bool prefillOpen = true, decodeOpen = d >= 0;
        try
        {
            if (!upstreams.Disaggregated)
            {
                var outcome = await ForwardAsync(prefill, exchange, exchange.Request.Body, ct).ConfigureAwait(false);
                _router.PrefillFinished(state, outcome == RequestOutcome.Completed);
                prefillOpen = false;
                return outcome;
            }

            if (sglang)
            {
                return await SglangAsync(exchange, state, prefill, upstreams.Decode[d], () => prefillOpen = false, ct).ConfigureAwait(false);
            }

            // vLLM: prefill alone first, then decode with the KV's whereabouts.
            var prefillBody = exchange.Request.Body.DeepClone().AsObject();
            prefillBody["kv_transfer_params"] = new JsonObject
            {
                ["do_remote_decode"] = true,
                ["do_remote_prefill"] = false,
                ["remote_engine_id"] = null,
                ["remote_block_ids"] = null,
                ["remote_host"] = null,
                ["remote_port"] = null,
            };
            prefillBody["stream"] = false;
            prefillBody.Remove("stream_options");
            prefillBody["max_tokens"] = 1;
            if (prefillBody.ContainsKey("max_completion_tokens"))
            {
                prefillBody["max_completion_tokens"] = 1;
            }

            var answer = await SendWholeAsync(prefill, exchange.Request.Chat, prefillBody, ct).ConfigureAwait(false);
            _router.PrefillFinished(state, true);
            prefillOpen = false;
            if (d < 0)
            {
                d = await _router.RouteDecodeAsync(state, ct).ConfigureAwait(false);
                decodeOpen = true;
            }

            var decodeBody = exchange.Request.Body.DeepClone().AsObject();
            if (answer["kv_transfer_params"] is JsonNode kv)
            {
                decodeBody["kv_transfer_params"] = kv.DeepClone();
            }

            return await ForwardAsync(upstreams.Decode[d], exchange, decodeBody, ct).ConfigureAwait(false);
        }
        finally
        {
            if (prefillOpen)
            {
                _router.PrefillFinished(state, false);
            }

            if (decodeOpen)
            {
                _router.DecodeFinished(state);
            }
        }
    }

    private async Task<RequestOutcome> SglangAsync(ClientExchange exchange, RequestState state, Upstream prefill, Upstream decode, Action prefillClosed, CancellationToken ct)
    {
        var body = exchange.Request.Body.DeepClone().AsObject();
        body["bootstrap_host"] = prefill.Url.Host;
        body["bootstrap_port"] = prefill.BootstrapPort ?? prefill.Url.Port;
        body["bootstrap_room"] = RandomNumberGenerator.GetInt32(int.MaxValue) * (long)int.MaxValue + RandomNumberGenerator.GetInt32(int.MaxValue);
        using var prefillCancel = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var prefillTask = Task.Run(() => SendWholeAsync(prefill, exchange.Request.Chat, body, prefillCancel.Token), CancellationToken.None);
        var prefillDone = prefillTask.ContinueWith(
            t =>
            {
                _router.PrefillFinished(state, t.IsCompletedSuccessfully);
                prefillClosed();
            },
            CancellationToken.None,
            TaskContinuationOptions.ExecuteSynchronously,
            TaskScheduler.Default);
        try
        {
            return await ForwardAsync(decode, exchange, body, ct).ConfigureAwait(false);
        }
        catch (UpstreamFailure)
        {
            // A decode that could not pull the KV blames the prefill when the prefill itself failed.
            await Task.WhenAny(prefillTask, Task.Delay(_options.ConnectTimeout, CancellationToken.None)).ConfigureAwait(false);
            if (prefillTask.IsFaulted && prefillTask.Exception!.InnerException is UpstreamFailure cause)
            {
                throw cause;
            }

            throw;
        }
        finally
        {
            if (!prefillTask.IsCompleted)
            {
                prefillCancel.Cancel();
            }

            await prefillDone.ConfigureAwait(false);
        }
    }

    /// <summary>A whole (non-streamed) upstream answer as JSON; failures as <see cref="UpstreamFailure"/>.</summary>
    private async Task<JsonNode> SendWholeAsync(Upstream upstream, bool chat, JsonObject body, CancellationToken ct)
    {
        _metrics.InFlight(upstream, 1);
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
            timeout.CancelAfter(_options.UpstreamTimeout);
            using var response = await SendAsync(upstream, chat, body, timeout.Token, ct).ConfigureAwait(false);
            string text = await response.Content.ReadAsStringAsync(timeout.Token).ConfigureAwait(false);
            if (!response.IsSuccessStatusCode)
            {
                throw new UpstreamFailure(upstream, $"answered {(int)response.StatusCode}: {Excerpt(text)}", false);
            }

            return JsonNode.Parse(text) ?? new JsonObject();
        }
        catch (Exception e) when (e is HttpRequestException or IOException or JsonException || (e is OperationCanceledException && !ct.IsCancellationRequested))
        {
            throw new UpstreamFailure(upstream, e is OperationCanceledException ? "timed out" : e.Message, e is not JsonException, e);
        }
        finally
        {
            _metrics.InFlight(upstream, -1);
        }
    }

    /// <summary>Sends the request and relays the answer to the client (an SSE stream line by line, or the whole body); records the timings of a completed one.</summary>
    private async Task<RequestOutcome> ForwardAsync(Upstream upstream, ClientExchange exchange, JsonObject body, CancellationToken ct)
    {
        _metrics.InFlight(upstream, 1);
        var response = exchange.Context.Response;
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
            timeout.CancelAfter(_options.UpstreamTimeout);
            using var answer = await SendAsync(upstream, exchange.Request.Chat, body, timeout.Token, ct).ConfigureAwait(false);
            if ((int)answer.StatusCode >= 500)
            {
                string text = await answer.Content.ReadAsStringAsync(timeout.Token).ConfigureAwait(false);
                throw new UpstreamFailure(upstream, $"answered {(int)answer.StatusCode}: {Excerpt(text)}", false);
            }

            if (!answer.IsSuccessStatusCode || !exchange.Request.Stream)
            {
                var bytes = await answer.Content.ReadAsByteArrayAsync(timeout.Token).ConfigureAwait(false);
                response.StatusCode = (int)answer.StatusCode;
                response.ContentType = answer.Content.Headers.ContentType?.ToString() ?? "application/json";
                await response.Body.WriteAsync(bytes, ct).ConfigureAwait(false);
                if (!answer.IsSuccessStatusCode)
                {
                    return RequestOutcome.Failed;
                }

                _metrics.E2e.Observe(exchange.ElapsedSeconds);
                return RequestOutcome.Completed;
            }

            await using var stream = await answer.Content.ReadAsStreamAsync(timeout.Token).ConfigureAwait(false);
            using var reader = new StreamReader(stream, Encoding.UTF8);
            bool done = false, sawError = false;
            while (true)
            {
                timeout.CancelAfter(_options.UpstreamTimeout);
                string? line = await reader.ReadLineAsync(timeout.Token).ConfigureAwait(false);
                if (line is null)
                {
                    break;
                }

                if (line.StartsWith("data:", StringComparison.Ordinal))
                {
                    var data = line.AsSpan(5).Trim();
                    if (data.SequenceEqual("[DONE]"))
                    {
                        done = true;
                    }
                    else if (data.Contains("\"error\"", StringComparison.Ordinal))
                    {
                        if (!exchange.Started)
                        {
                            throw new UpstreamFailure(upstream, $"sent an error event: {Excerpt(data.ToString())}", false);
                        }

                        // Relayed to the client as it came; the request failed.
                        sawError = true;
                    }
                    else if (data.Contains("\"usage\"", StringComparison.Ordinal) && ClientExchange.UsageOf(JsonNode.Parse(data.ToString())) is { } usage)
                    {
                        exchange.UsageTokens = usage;
                    }
                    else
                    {
                        exchange.TokenEvent();
                    }
                }

                if (!response.HasStarted)
                {
                    response.StatusCode = 200;
                    response.ContentType = "text/event-stream";
                    response.Headers.CacheControl = "no-cache";
                }

                await response.WriteAsync(line + "\n", ct).ConfigureAwait(false);
                if (line.Length == 0)
                {
                    await response.Body.FlushAsync(ct).ConfigureAwait(false);
                }
            }

            if (!done)
            {
                throw new UpstreamFailure(upstream, "the stream ended without [DONE]", true);
            }

            await response.Body.FlushAsync(ct).ConfigureAwait(false);
            if (sawError)
            {
                return RequestOutcome.Failed;
            }

            double e2e = exchange.ElapsedSeconds;
            _metrics.E2e.Observe(e2e);
            if (!double.IsNaN(exchange.FirstTokenSeconds))
            {
                _metrics.Ttft.Observe(exchange.FirstTokenSeconds);
                if (exchange.OutputTokens > 1)
                {
                    _metrics.Tpot.Observe((e2e - exchange.FirstTokenSeconds) / (exchange.OutputTokens - 1));
                }
            }

            return RequestOutcome.Completed;
        }
        catch (Exception e) when (e is HttpRequestException or IOException || (e is OperationCanceledException && !ct.IsCancellationRequested))
        {
            throw new UpstreamFailure(upstream, e is OperationCanceledException ? "timed out" : e.Message, true, e);
        }
        finally
        {
            _metrics.InFlight(upstream, -1);
        }
    }

    private async Task<HttpResponseMessage> SendAsync(Upstream upstream, bool chat, JsonObject body, CancellationToken timeout, CancellationToken ct)
    {
        var message = new HttpRequestMessage(HttpMethod.Post, new Uri(upstream.Url, chat ? "/v1/chat/completions" : "/v1/completions"))
        {
            Content = new ByteArrayContent(JsonSerializer.SerializeToUtf8Bytes(body)) { Headers = { ContentType = Json } },
        };
        try
        {
            return await _client.SendAsync(message, HttpCompletionOption.ResponseHeadersRead, timeout).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            throw new UpstreamFailure(upstream, "timed out before answering", true);
        }
        finally
        {
            message.Dispose();
        }
    }

    private static string Excerpt(string text) => text.Length <= 200 ? text : text[..200] + "...";
}
