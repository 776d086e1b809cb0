using System.Buffers;
using System.Collections.Concurrent;
using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using MoePlan.Core.Plan;
using MoePlan.Proxy.Protocol;

namespace MoePlan.Proxy.Engine;

/// <summary>
/// An emulated engine (<c>moeplan engine PLAN --emulate</c>): the OpenAI API of vLLM and SGLang on Kestrel
/// (<c>/v1/completions</c>, <c>/v1/chat/completions</c>, streaming or not, <c>/v1/models</c>, <c>/health</c>) over an
/// <see cref="EngineBatcher"/>, and the engine's P/D protocol. vLLM: a request with <c>kv_transfer_params</c>
/// <c>{"do_remote_decode": true}</c> only prefills and returns the parameters a decode pulls the KV with
/// (<c>remote_host</c>, <c>remote_port</c>, <c>remote_request_id</c>, ...); one with <c>do_remote_prefill</c> pulls
/// the KV from there, then decodes. SGLang: with <c>bootstrap_room</c>, a prefill instance prefills and holds the KV
/// under the room, a decode instance pulls it from <c>bootstrap_host:bootstrap_port</c>. The pull stands for NIXL's or
/// Mooncake's transfer: an HTTP GET of <c>/kv/{key}</c> on the prefill engine (its bootstrap port is its HTTP port)
/// that waits until the prefill is done, then the plan's transfer time; it fails when the prefill engine is gone.
/// </summary>
public sealed class EmulatedEngine : IAsyncDisposable
{
    private static readonly HttpClient KvClient = new(new SocketsHttpHandler { ConnectTimeout = TimeSpan.FromSeconds(2) }) { Timeout = Timeout.InfiniteTimeSpan };

    private readonly EngineOptions _options;
    private readonly WebApplication _app;
    private readonly EngineBatcher _batcher;
    private readonly ConcurrentDictionary<string, TaskCompletionSource<int>> _kv = new();
    private readonly string _engineId = Guid.NewGuid().ToString("N");
    private long _completed;
    private long _failed;
    private int _stopped;

    private EmulatedEngine(EngineOptions options, WebApplication app)
    {
        _options = options;
        _app = app;
        _batcher = new EngineBatcher(options.Config, options.Steps, options.Speed);
    }

    public EngineOptions Options => _options;

    /// <summary>The address it listens on (http://127.0.0.1:PORT), known once started.</summary>
    public Uri Address { get; private set; } = null!;

    public EngineBatcher Batcher => _batcher;

    public long Completed => Interlocked.Read(ref _completed);

    public long Failed => Interlocked.Read(ref _failed);

    public static async Task<EmulatedEngine> StartAsync(EngineOptions options, CancellationToken cancellation = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        // The tokenizer loads its vocabulary on first use: before the first request, not during it.
        CompletionRequest.WarmUp();
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseKestrel(k => k.Listen(IPAddress.Parse(options.Host), options.Port));
        builder.Services.Configure<Microsoft.Extensions.Hosting.HostOptions>(h => h.ShutdownTimeout = TimeSpan.FromSeconds(5));
        var app = builder.Build();
        var engine = new EmulatedEngine(options, app);
        engine.Map(app);
        await app.StartAsync(cancellation).ConfigureAwait(false);
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        engine.Address = new Uri(address);
        return engine;
    }

    /// <summary>Stops at once, as a crashed engine does: open streams break, KV not yet pulled is gone.</summary>
    public async Task KillAsync()
    {
        if (Interlocked.Exchange(ref _stopped, 1) != 0)
        {
            return;
        }

        await _batcher.DisposeAsync().ConfigureAwait(false);
        foreach (var tcs in _kv.Values)
        {
            tcs.TrySetException(new IOException("the engine stopped"));
        }

        await _app.StopAsync(new CancellationToken(true)).ConfigureAwait(false);
        await _app.DisposeAsync().ConfigureAwait(false);
    }

    public async ValueTask DisposeAsync() => await KillAsync().ConfigureAwait(false);

    private void Map(WebApplication app)
    {
        app.MapGet("/health", () => Results.Ok());
        app.MapGet("/v1/models", () => Results.Text(new JsonObject
        {
            ["object"] = "list",
            ["data"] = new JsonArray(new JsonObject { ["id"] = _options.Model, ["object"] = "model", ["owned_by"] = "moeplan-emulator" }),
        }.ToJsonString(), "application/json"));
        app.MapPost("/v1/completions", ctx => ServeAsync(ctx, chat: false));
        app.MapPost("/v1/chat/completions", ctx => ServeAsync(ctx, chat: true));
        app.MapGet("/kv/{key}", (HttpContext ctx, string key) => ServeKvAsync(ctx, key));
    }

    private async Task ServeAsync(HttpContext ctx, bool chat)
    {
        var body = await ReadBodyAsync(ctx.Request).ConfigureAwait(false);
        var request = CompletionRequest.Parse(body, chat, out var error);
        if (request is null)
        {
            await WriteJsonAsync(ctx, 400, CompletionResponses.Error(error!, "invalid_request_error", 400)).ConfigureAwait(false);
            return;
        }

        string id = (chat ? "chatcmpl-" : "cmpl-") + Guid.NewGuid().ToString("N");
        var (work, kvKey, kvSource) = Protocol(request, id);
        int maxTokens = work == EngineWork.PrefillOnly ? 1 : request.MaxTokens;
        int cached = 0;
        if (work == EngineWork.DecodeOnly)
        {
            int? pulled = await PullKvAsync(ctx, kvSource!, request.Prompt.Tokens).ConfigureAwait(false);
            if (pulled is null)
            {
                Interlocked.Increment(ref _failed);
                return;
            }

            cached = pulled.Value;
        }

        TaskCompletionSource<int>? held = kvKey is null ? null : _kv.GetOrAdd(kvKey, _ => new(TaskCreationOptions.RunContinuationsAsynchronously));
        var job = _batcher.Submit(request.Prompt.Tokens, request.Prompt.Blocks, maxTokens, work);
        using var aborted = ctx.RequestAborted.Register(job.Cancel);
        int produced = 0;
        try
        {
            if (request.Stream)
            {
                ctx.Response.ContentType = "text/event-stream";
                ctx.Response.Headers.CacheControl = "no-cache";
                await ctx.Response.StartAsync(ctx.RequestAborted).ConfigureAwait(false);
                await foreach (int n in job.Tokens.Reader.ReadAllAsync(ctx.RequestAborted).ConfigureAwait(false))
                {
                    produced += n;
                    string? finish = produced >= maxTokens ? "length" : null;
                    await WriteEventAsync(ctx, CompletionResponses.Chunk(id, _options.Model, chat, Repeat(n), finish)).ConfigureAwait(false);
                }

                if (request.IncludeUsage)
                {
                    await WriteEventAsync(ctx, CompletionResponses.UsageChunk(id, _options.Model, chat, request.Prompt.Tokens, produced, cached + job.CachedTokens)).ConfigureAwait(false);
                }

                await ctx.Response.WriteAsync("data: [DONE]\n\n", ctx.RequestAborted).ConfigureAwait(false);
            }
            else
            {
                await foreach (int n in job.Tokens.Reader.ReadAllAsync(ctx.RequestAborted).ConfigureAwait(false))
                {
                    produced += n;
                }

                var whole = CompletionResponses.Whole(id, _options.Model, chat, Repeat(produced), request.Prompt.Tokens, produced, "length", cached + job.CachedTokens);
                if (work == EngineWork.PrefillOnly && _options.Protocol != EngineKind.Sglang)
                {
                    whole["kv_transfer_params"] = RemoteDecodeParameters(kvKey!, request.Prompt.Blocks.Length);
                }

                await WriteJsonAsync(ctx, 200, whole).ConfigureAwait(false);
            }

            held?.TrySetResult(job.CachedTokens);
            if (kvKey is not null)
            {
                ForgetLater(kvKey);
            }

            Interlocked.Increment(ref _completed);
        }
        catch (Exception e) when (e is OperationCanceledException or IOException)
        {
            held?.TrySetException(new IOException("the prefill did not finish"));
            Interlocked.Increment(ref _failed);
            // A stopped engine's streams end abruptly (the connection is reset), as a crashed engine's do.
            ctx.Abort();
        }
    }

    /// <summary>What the request asks this engine to do under its protocol, the key its KV is held under, and where a decode pulls it from.</summary>
    private (EngineWork Work, string? KvKey, Uri? KvSource) Protocol(CompletionRequest request, string id)
    {
        var body = request.Body;
        if (_options.Protocol == EngineKind.Sglang)
        {
            if (body["bootstrap_room"] is not JsonValue room)
            {
                return (EngineWork.Full, null, null);
            }

            string key = "room-" + room.ToString();
            if (_options.Pool == PoolRole.Prefill)
            {
                return (EngineWork.PrefillOnly, key, null);
            }

            var source = new Uri($"http://{FormatHost(body["bootstrap_host"]?.ToString() ?? "127.0.0.1")}:{body["bootstrap_port"]}/kv/{Uri.EscapeDataString(key)}");
            return (EngineWork.DecodeOnly, null, source);
        }

        var kv = body["kv_transfer_params"];
        if (kv?["do_remote_decode"] is JsonValue d && d.TryGetValue<bool>(out var remoteDecode) && remoteDecode)
        {
            return (EngineWork.PrefillOnly, id, null);
        }

        if (kv?["do_remote_prefill"] is JsonValue p && p.TryGetValue<bool>(out var remotePrefill) && remotePrefill)
        {
            var source = new Uri($"http://{FormatHost(kv["remote_host"]?.ToString() ?? "127.0.0.1")}:{kv["remote_port"]}/kv/{Uri.EscapeDataString(kv["remote_request_id"]?.ToString() ?? "")}");
            return (EngineWork.DecodeOnly, null, source);
        }

        return (EngineWork.Full, null, null);
    }

    /// <summary>vLLM's NixlConnector answer to a <c>do_remote_decode</c> prefill: where and under which id the decode finds the KV.</summary>
    private JsonObject RemoteDecodeParameters(string key, int blocks) => new()
    {
        ["do_remote_prefill"] = true,
        ["do_remote_decode"] = false,
        ["remote_engine_id"] = _engineId,
        ["remote_request_id"] = key,
        ["remote_block_ids"] = new JsonArray([.. Enumerable.Range(0, blocks).Select(b => (JsonNode)b)]),
        ["remote_host"] = Address.Host,
        ["remote_port"] = Address.Port,
    };

    /// <summary>
    /// Pulls the prompt's KV from the prefill engine, then waits the plan's transfer time; the prompt tokens the
    /// prefill's cache served, or null (and a 502 written) when it cannot.
    /// </summary>
    private async Task<int?> PullKvAsync(HttpContext ctx, Uri source, int promptTokens)
    {
        int cached;
        try
        {
            using var response = await KvClient.GetAsync(source, ctx.RequestAborted).ConfigureAwait(false);
            if (!response.IsSuccessStatusCode)
            {
                await WriteJsonAsync(ctx, 502, CompletionResponses.Error($"KV transfer from {source.Authority} failed: {(int)response.StatusCode}", "kv_transfer_error", 502)).ConfigureAwait(false);
                return null;
            }

            cached = JsonNode.Parse(await response.Content.ReadAsStringAsync(ctx.RequestAborted).ConfigureAwait(false))?["cached_tokens"]?.GetValue<int>() ?? 0;
        }
        catch (Exception e) when (e is HttpRequestException or IOException or TaskCanceledException or System.Text.Json.JsonException)
        {
            if (!ctx.RequestAborted.IsCancellationRequested)
            {
                await WriteJsonAsync(ctx, 502, CompletionResponses.Error($"KV transfer from {source.Authority} failed: {e.Message}", "kv_transfer_error", 502)).ConfigureAwait(false);
            }

            return null;
        }

        double transfer = promptTokens * _options.Config.KvTransferMillisecondsPerToken / _options.Speed;
        if (transfer >= 0.05)
        {
            await Task.Delay(TimeSpan.FromMilliseconds(transfer), ctx.RequestAborted).ConfigureAwait(false);
        }

        return cached;
    }

    private async Task ServeKvAsync(HttpContext ctx, string key)
    {
        var tcs = _kv.GetOrAdd(key, _ => new(TaskCreationOptions.RunContinuationsAsynchronously));
        try
        {
            int cached = await tcs.Task.WaitAsync(_options.KvWaitTimeout, ctx.RequestAborted).ConfigureAwait(false);
            _kv.TryRemove(key, out _);
            await WriteJsonAsync(ctx, 200, new JsonObject { ["cached_tokens"] = cached }).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            _kv.TryRemove(key, out _);
            await WriteJsonAsync(ctx, 504, CompletionResponses.Error($"no prefill of '{key}' finished within {_options.KvWaitTimeout.TotalSeconds:0} s", "kv_transfer_error", 504)).ConfigureAwait(false);
        }
        catch (IOException e)
        {
            _kv.TryRemove(key, out _);
            await WriteJsonAsync(ctx, 502, CompletionResponses.Error(e.Message, "kv_transfer_error", 502)).ConfigureAwait(false);
        }
    }

    /// <summary>KV nobody pulls (the decode failed first) is dropped after the wait timeout.</summary>
    private void ForgetLater(string key) =>
        _ = Task.Delay(_options.KvWaitTimeout).ContinueWith(_ => _kv.TryRemove(key, out var _), TaskScheduler.Default);

    private static string FormatHost(string host) => host.Contains(':') && !host.StartsWith('[') ? $"[{host}]" : host;

    private static string Repeat(int tokens) => tokens == 1 ? CompletionResponses.TokenText : string.Concat(Enumerable.Repeat(CompletionResponses.TokenText, tokens));

    /// <summary>The whole request body, read from the server's buffers into one array (no intermediate copies).</summary>
    internal static async Task<byte[]> ReadBodyAsync(HttpRequest request)
    {
        var reader = request.BodyReader;
        while (true)
        {
            var read = await reader.ReadAsync(request.HttpContext.RequestAborted).ConfigureAwait(false);
            if (read.IsCompleted)
            {
                var body = read.Buffer.ToArray();
                reader.AdvanceTo(read.Buffer.End);
                return body;
            }

            // Not all here yet: keep it buffered and wait for more.
            reader.AdvanceTo(read.Buffer.Start, read.Buffer.End);
        }
    }

    internal static async Task WriteJsonAsync(HttpContext ctx, int status, JsonNode body)
    {
        ctx.Response.StatusCode = status;
        ctx.Response.ContentType = "application/json";
        await ctx.Response.WriteAsync(body.ToJsonString(), Encoding.UTF8, ctx.RequestAborted).ConfigureAwait(false);
    }

    private static async Task WriteEventAsync(HttpContext ctx, JsonNode chunk)
    {
        await ctx.Response.WriteAsync("data: " + chunk.ToJsonString() + "\n\n", ctx.RequestAborted).ConfigureAwait(false);
        await ctx.Response.Body.FlushAsync(ctx.RequestAborted).ConfigureAwait(false);
    }
}
