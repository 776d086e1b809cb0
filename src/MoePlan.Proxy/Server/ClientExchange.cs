using System.Diagnostics;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http;
using MoePlan.Proxy.Protocol;

namespace MoePlan.Proxy.Server;

/// <summary>The client's side of one request: whether anything reached it yet (after which no retry is possible), and its token timings.</summary>
internal sealed class ClientExchange(HttpContext context, CompletionRequest request, long arrivedTimestamp)
{
    public HttpContext Context => context;

    public CompletionRequest Request => request;

    public long ArrivedTimestamp => arrivedTimestamp;

    private bool _relaying;

    /// <summary>Response bytes have been sent to the client, or handed to the server to send (relayed stream bytes wait for a flush).</summary>
    public bool Started => _relaying || context.Response.HasStarted;

    public CancellationToken Aborted => context.RequestAborted;

    /// <summary>Seconds from arrival to the first token event; NaN before it.</summary>
    public double FirstTokenSeconds { get; private set; } = double.NaN;

    public int TokenEvents { get; private set; }

    /// <summary>completion_tokens of the stream's usage chunk, when the upstream sent one.</summary>
    public int? UsageTokens { get; set; }

    public double ElapsedSeconds => Stopwatch.GetElapsedTime(arrivedTimestamp).TotalSeconds;

    /// <summary>The upstream's stream is being relayed: its first bytes are written (status and headers go with them).</summary>
    public void Relaying() => _relaying = true;

    public void TokenEvent()
    {
        if (TokenEvents++ == 0)
        {
            FirstTokenSeconds = ElapsedSeconds;
        }
    }

    /// <summary>The stream's error event then [DONE] (OpenAI's shape), after which the client stops reading.</summary>
    public async Task WriteErrorEventAsync(string message)
    {
        try
        {
            await context.Response.WriteAsync("data: " + CompletionResponses.Error(message, "upstream_error", 502).ToJsonString() + "\n\ndata: [DONE]\n\n", context.RequestAborted).ConfigureAwait(false);
            await context.Response.Body.FlushAsync(context.RequestAborted).ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or OperationCanceledException)
        {
            // The client is gone too.
        }
    }

    public async Task WriteErrorAsync(int status, string message)
    {
        if (!Started && !context.RequestAborted.IsCancellationRequested)
        {
            context.Response.StatusCode = status;
            context.Response.ContentType = "application/json";
            await context.Response.WriteAsync(CompletionResponses.Error(message, "upstream_error", status).ToJsonString(), context.RequestAborted).ConfigureAwait(false);
        }
    }

    /// <summary>Output tokens of the finished stream: the usage chunk's count, else one per token event.</summary>
    public int OutputTokens => UsageTokens ?? TokenEvents;
}
