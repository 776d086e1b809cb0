using System.Text;
using System.Text.Json;

namespace MoePlan.Proxy.Protocol;

/// <summary>What a line of an engine's SSE stream is, as far as the proxy's metrics and fault handling care.</summary>
public enum StreamLineKind
{
    /// <summary>Not a <c>data:</c> line (a blank line ending an event, a comment, another field).</summary>
    Other,

    /// <summary><c>data: [DONE]</c>: the stream ended properly.</summary>
    Done,

    /// <summary>An error event (its data has an <c>"error"</c> member).</summary>
    Error,

    /// <summary>The usage chunk (<c>stream_options.include_usage</c>): its <c>completion_tokens</c>.</summary>
    Usage,

    /// <summary>Any other data event: a token (chunk) event.</summary>
    Token,
}

/// <summary>
/// Reads an SSE stream's lines as bytes (the proxy relays the bytes as they come and only classifies them): where a line
/// ends and what it is. Lines end at LF, CRLF or a lone CR, as SSE defines them.
/// </summary>
public static class StreamEvents
{
    /// <summary>
    /// The length of the first line in <paramref name="data"/> without its end and the length of its end; false when no
    /// line ends in it yet (a CR at its very end may be the start of a CRLF unless <paramref name="final"/>).
    /// </summary>
    public static bool TryFindLine(ReadOnlySpan<byte> data, bool final, out int lineLength, out int endLength)
    {
        int i = data.IndexOfAny((byte)'\r', (byte)'\n');
        lineLength = i;
        endLength = 0;
        if (i < 0)
        {
            return false;
        }

        if (data[i] == (byte)'\n')
        {
            endLength = 1;
            return true;
        }

        if (i + 1 < data.Length)
        {
            endLength = data[i + 1] == (byte)'\n' ? 2 : 1;
            return true;
        }

        endLength = 1;
        return final;
    }

    /// <summary>What a line (without its end) is; for <see cref="StreamLineKind.Usage"/> the completion tokens it reports.</summary>
    public static StreamLineKind Classify(ReadOnlySpan<byte> line, out int usageTokens)
    {
        usageTokens = 0;
        if (!line.StartsWith("data:"u8))
        {
            return StreamLineKind.Other;
        }

        var field = line[5..];
        var data = field[Ascii.Trim(field)];
        if (data.SequenceEqual("[DONE]"u8))
        {
            return StreamLineKind.Done;
        }

        if (data.IndexOf("\"error\""u8) >= 0)
        {
            return StreamLineKind.Error;
        }

        if (data.IndexOf("\"usage\""u8) >= 0 && UsageOf(data) is { } tokens)
        {
            usageTokens = tokens;
            return StreamLineKind.Usage;
        }

        return StreamLineKind.Token;
    }

    /// <summary>The <c>usage.completion_tokens</c> of a chunk; null when it has none (vLLM sends <c>"usage": null</c> in token chunks) or is not JSON.</summary>
    private static int? UsageOf(ReadOnlySpan<byte> chunk)
    {
        try
        {
            var reader = new Utf8JsonReader(chunk);
            using var document = JsonDocument.ParseValue(ref reader);
            return document.RootElement is { ValueKind: JsonValueKind.Object } root
                && root.TryGetProperty("usage", out var usage) && usage.ValueKind == JsonValueKind.Object
                && usage.TryGetProperty("completion_tokens", out var tokens) && tokens.ValueKind == JsonValueKind.Number && tokens.TryGetInt32(out int n)
                ? n
                : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }
}
