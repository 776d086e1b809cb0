using System.Buffers;
using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Http;
using MoePlan.Core.Plan;
using MoePlan.Proxy.Protocol;
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

    /// <summary>The stream relay's buffer: a few chunks of a vLLM or SGLang stream; a longer line grows it.</summary>
    private const int RelayBufferBytes = 16 * 1024;

    private readonly ProxyOptions _options;
    private readonly ProxyRouter _router;
    private readonly ProxyMetrics _metrics;
    private readonly HttpClient _client;

    /// <summary>Each upstream's <c>/v1/completions</c> and <c>/v1/chat/completions</c>, made once.</summary>
    private readonly Dictionary<Upstream, (Uri Completions, Uri Chat)> _urls = new(ReferenceEqualityComparer.Instance);

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
        foreach (var u in options.Upstreams.All)
        {
            _urls[u] = (new Uri(u.Url, "/v1/completions"), new Uri(u.Url, "/v1/chat/completions"));
        }
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
                var outcome = await ForwardAsync(prefill, exchange, exchange.Request.Json, ct).ConfigureAwait(false);
                _router.PrefillFinished(state, outcome == RequestOutcome.Completed);
                prefillOpen = false;
                return outcome;
            }

            if (sglang)
            {
                return await SglangAsync(exchange, state, prefill, upstreams.Decode[d], () => prefillOpen = false, ct).ConfigureAwait(false);
            }

            // vLLM: prefill alone first, then decode with the KV's whereabouts.
            var json = exchange.Request.Json;
            var answer = await SendWholeAsync(prefill, exchange.Request.Chat, RequestBodies.VllmPrefill(json.Span), ct).ConfigureAwait(false);
            _router.PrefillFinished(state, true);
            prefillOpen = false;
            if (d < 0)
            {
                d = await _router.RouteDecodeAsync(state, ct).ConfigureAwait(false);
                decodeOpen = true;
            }

            var kv = answer;
            var decodeBody = kv.IsEmpty ? json : RequestBodies.VllmDecode(json.Span, kv.Span);
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
        var body = RequestBodies.SglangBootstrap(
            exchange.Request.Json.Span,
            prefill.Url.Host,
            prefill.BootstrapPort ?? prefill.Url.Port,
            (RandomNumberGenerator.GetInt32(int.MaxValue) * (long)int.MaxValue) + RandomNumberGenerator.GetInt32(int.MaxValue));
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

    /// <summary>
    /// Sends a prefill and reads its whole (non-streamed) JSON answer; the answer's <c>kv_transfer_params</c> as it wrote
    /// them (empty when it has none). Failures, a body that is not JSON included, as <see cref="UpstreamFailure"/>.
    /// </summary>
    private async Task<ReadOnlyMemory<byte>> SendWholeAsync(Upstream upstream, bool chat, ReadOnlyMemory<byte> body, CancellationToken ct)
    {
        _metrics.InFlight(upstream, 1);
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
            timeout.CancelAfter(_options.UpstreamTimeout);
            using var response = await SendAsync(upstream, chat, body, timeout.Token, ct).ConfigureAwait(false);
            var answer = await response.Content.ReadAsByteArrayAsync(timeout.Token).ConfigureAwait(false);
            if (!response.IsSuccessStatusCode)
            {
                throw new UpstreamFailure(upstream, $"answered {(int)response.StatusCode}: {Excerpt(answer)}", false);
            }

            return RequestBodies.KvTransferParams(answer);
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

    /// <summary>
    /// Sends the request and relays the answer to the client (an SSE stream as its bytes come, or the whole body); records
    /// the timings of a completed one. The stream is read as bytes and each line classified (<see cref="StreamEvents"/>)
    /// for the metrics and for an error before anything reached the client (retried elsewhere); what arrived is written
    /// on and flushed whenever the upstream has nothing more at once, so tokens go out as soon as they come and events
    /// that come together leave together.
    /// </summary>
    private async Task<RequestOutcome> ForwardAsync(Upstream upstream, ClientExchange exchange, ReadOnlyMemory<byte> body, CancellationToken ct)
    {
        _metrics.InFlight(upstream, 1);
        var response = exchange.Context.Response;
        byte[]? buffer = null;
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
            timeout.CancelAfter(_options.UpstreamTimeout);
            using var answer = await SendAsync(upstream, exchange.Request.Chat, body, timeout.Token, ct).ConfigureAwait(false);
            if ((int)answer.StatusCode >= 500)
            {
                var text = await answer.Content.ReadAsByteArrayAsync(timeout.Token).ConfigureAwait(false);
                throw new UpstreamFailure(upstream, $"answered {(int)answer.StatusCode}: {Excerpt(text)}", false);
            }

            if (!answer.IsSuccessStatusCode || !exchange.Request.Stream)
            {
                var bytes = await answer.Content.ReadAsByteArrayAsync(timeout.Token).ConfigureAwait(false);
                response.StatusCode = (int)answer.StatusCode;
                response.ContentType = answer.Content.Headers.ContentType?.ToString() ?? "application/json";
                response.ContentLength = bytes.Length;
                await response.Body.WriteAsync(bytes, ct).ConfigureAwait(false);
                if (!answer.IsSuccessStatusCode)
                {
                    return RequestOutcome.Failed;
                }

                _metrics.E2e.Observe(exchange.ElapsedSeconds);
                return RequestOutcome.Completed;
            }

            await using var stream = await answer.Content.ReadAsStreamAsync(timeout.Token).ConfigureAwait(false);
            var client = response.BodyWriter;
            buffer = ArrayPool<byte>.Shared.Rent(RelayBufferBytes);
            int held = 0;
            bool done = false, sawError = false, unflushed = false, ended = false;
            while (!ended)
            {
                timeout.CancelAfter(_options.UpstreamTimeout);
                var read = stream.ReadAsync(buffer.AsMemory(held), timeout.Token);
                if (!read.IsCompleted && unflushed)
                {
                    // Nothing more at once: what arrived goes to the client before the wait.
                    await client.FlushAsync(ct).ConfigureAwait(false);
                    unflushed = false;
                }

                int n = await read.ConfigureAwait(false);
                ended = n == 0;
                held += n;
                int start = 0;
                while (start < held)
                {
                    var rest = buffer.AsSpan(start, held - start);
                    int lineLength, endLength;
                    if (!StreamEvents.TryFindLine(rest, ended, out lineLength, out endLength))
                    {
                        if (!ended)
                        {
                            break;
                        }

                        // The stream's last line has no end: relayed with one.
                        lineLength = rest.Length;
                        endLength = 0;
                    }

                    var line = rest[..lineLength];
                    switch (StreamEvents.Classify(line, out int usage))
                    {
                        case StreamLineKind.Done:
                            done = true;
                            break;
                        case StreamLineKind.Error when !exchange.Started:
                            throw new UpstreamFailure(upstream, $"sent an error event: {Excerpt(line[5..])}", false);
                        case StreamLineKind.Error:
                            // Relayed to the client as it came; the request failed.
                            sawError = true;
                            break;
                        case StreamLineKind.Usage:
                            exchange.UsageTokens = usage;
                            break;
                        case StreamLineKind.Token:
                            exchange.TokenEvent();
                            break;
                    }

                    if (!exchange.Started)
                    {
                        response.StatusCode = 200;
                        response.ContentType = "text/event-stream";
                        response.Headers.CacheControl = "no-cache";
                        exchange.Relaying();
                    }

                    client.Write(rest[..(lineLength + endLength)]);
                    if (endLength == 0)
                    {
                        client.Write("\n"u8);
                    }

                    unflushed = true;
                    start += lineLength + endLength;
                }

                // A partial line waits for the rest of it at the buffer's start, in a bigger buffer when it fills this one.
                held -= start;
                buffer.AsSpan(start, held).CopyTo(buffer);
                if (held == buffer.Length)
                {
                    var bigger = ArrayPool<byte>.Shared.Rent(buffer.Length * 2);
                    buffer.AsSpan(0, held).CopyTo(bigger);
                    ArrayPool<byte>.Shared.Return(buffer);
                    buffer = bigger;
                }
            }

            if (!done)
            {
                throw new UpstreamFailure(upstream, "the stream ended without [DONE]", true);
            }

            // The rest and the response's end in one write (to a client still there: one gone fails the request, as a flush would).
            ct.ThrowIfCancellationRequested();
            await response.CompleteAsync().ConfigureAwait(false);
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
            if (buffer is not null)
            {
                ArrayPool<byte>.Shared.Return(buffer);
            }

            _metrics.InFlight(upstream, -1);
        }
    }

    private async Task<HttpResponseMessage> SendAsync(Upstream upstream, bool chat, ReadOnlyMemory<byte> body, CancellationToken timeout, CancellationToken ct)
    {
        var message = new HttpRequestMessage(HttpMethod.Post, chat ? _urls[upstream].Chat : _urls[upstream].Completions)
        {
            Content = new ReadOnlyMemoryContent(body) { Headers = { ContentType = Json } },
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

    /// <summary>The start of an upstream's answer for a message (as text, invalid UTF-8 replaced).</summary>
    private static string Excerpt(ReadOnlySpan<byte> answer)
    {
        string text = Encoding.UTF8.GetString(answer[..Math.Min(answer.Length, 800)]);
        return text.Length <= 200 ? text : text[..200] + "...";
    }
}
