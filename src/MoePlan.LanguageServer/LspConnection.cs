using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace MoePlan.LanguageServer;

/// <summary>JSON-RPC 2.0 over LSP's base protocol: messages framed by a <c>Content-Length</c> header.</summary>
public sealed class LspConnection(Stream input, Stream output)
{
    /// <summary>A message larger than this is refused (the connection closes): a plan is kilobytes.</summary>
    public const int MaxMessageBytes = 64 * 1024 * 1024;

    private readonly SemaphoreSlim _writeLock = new(1, 1);

    /// <summary>The next message, or null at the end of the input (or a broken frame).</summary>
    public async Task<JsonObject?> ReadAsync(CancellationToken cancellation = default)
    {
        var length = -1;
        while (true)
        {
            var line = await ReadHeaderLineAsync(cancellation);
            if (line is null)
            {
                return null;
            }

            if (line.Length == 0)
            {
                break;
            }

            var colon = line.IndexOf(':', StringComparison.Ordinal);
            if (colon > 0 && line[..colon].Trim().Equals("Content-Length", StringComparison.OrdinalIgnoreCase)
                && int.TryParse(line[(colon + 1)..].Trim(), out var parsed))
            {
                length = parsed;
            }
        }

        if (length < 0 || length > MaxMessageBytes)
        {
            return null;
        }

        var body = new byte[length];
        var read = 0;
        while (read < length)
        {
            var n = await input.ReadAsync(body.AsMemory(read, length - read), cancellation);
            if (n == 0)
            {
                return null;
            }

            read += n;
        }

        try
        {
            return JsonNode.Parse(body) as JsonObject ?? new JsonObject();
        }
        catch (JsonException)
        {
            // Not JSON: answered as a parse error by the caller (an object without "method" or "id").
            return new JsonObject { ["__parseError"] = true };
        }
    }

    public Task SendResponseAsync(JsonNode? id, JsonNode? result) =>
        WriteAsync(new JsonObject { ["jsonrpc"] = "2.0", ["id"] = id?.DeepClone(), ["result"] = result });

    public Task SendErrorAsync(JsonNode? id, int code, string message) =>
        WriteAsync(new JsonObject { ["jsonrpc"] = "2.0", ["id"] = id?.DeepClone(), ["error"] = new JsonObject { ["code"] = code, ["message"] = message } });

    /// <summary>A request (the client's side of a session: benchmarks and tools that drive a server).</summary>
    public Task SendRequestAsync(int id, string method, JsonNode? parameters) =>
        WriteAsync(new JsonObject { ["jsonrpc"] = "2.0", ["id"] = id, ["method"] = method, ["params"] = parameters });

    public Task SendNotificationAsync(string method, JsonNode? parameters) =>
        WriteAsync(new JsonObject { ["jsonrpc"] = "2.0", ["method"] = method, ["params"] = parameters });

    private async Task WriteAsync(JsonObject message)
    {
        var body = Encoding.UTF8.GetBytes(message.ToJsonString());
        var header = Encoding.ASCII.GetBytes($"Content-Length: {body.Length}\r\n\r\n");
        await _writeLock.WaitAsync();
        try
        {
            await output.WriteAsync(header);
            await output.WriteAsync(body);
            await output.FlushAsync();
        }
        finally
        {
            _writeLock.Release();
        }
    }

    private async Task<string?> ReadHeaderLineAsync(CancellationToken cancellation)
    {
        var bytes = new List<byte>();
        var one = new byte[1];
        while (true)
        {
            var n = await input.ReadAsync(one, cancellation);
            if (n == 0)
            {
                return null;
            }

            if (one[0] == '\n')
            {
                break;
            }

            if (one[0] != '\r')
            {
                bytes.Add(one[0]);
            }

            if (bytes.Count > 8192)
            {
                return null;
            }
        }

        return Encoding.ASCII.GetString(bytes.ToArray());
    }
}
