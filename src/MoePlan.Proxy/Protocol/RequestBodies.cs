using System.Buffers;
using System.Text.Json;

namespace MoePlan.Proxy.Protocol;

/// <summary>
/// The bodies the P/D protocols send upstream, spliced from the client's bytes: every property the protocol does not
/// set is copied as the client wrote it, a property it sets is replaced where it stands (or appended), one it drops is
/// left out. No JSON tree is built and nothing is re-serialised (the proxy's per-request cost, docs/benchmarks.md).
/// </summary>
public static class RequestBodies
{
    /// <summary>vLLM's <c>kv_transfer_params</c> of a prefill that keeps the KV for a remote decode (its disaggregated-serving proxy example's).</summary>
    private static readonly byte[] RemoteDecodeParameters =
        """{"do_remote_decode":true,"do_remote_prefill":false,"remote_engine_id":null,"remote_block_ids":null,"remote_host":null,"remote_port":null}"""u8.ToArray();

    /// <summary>
    /// vLLM's prefill request: the client's with <c>kv_transfer_params</c> asking for a remote decode, <c>stream</c>
    /// false (no <c>stream_options</c>), <c>max_tokens</c> 1 and <c>max_completion_tokens</c> 1 when the client set it.
    /// </summary>
    public static byte[] VllmPrefill(ReadOnlySpan<byte> body) => Splice(
        body,
        [
            new("kv_transfer_params", RemoteDecodeParameters),
            new("stream", "false"u8.ToArray()),
            new("stream_options", null, Append: false),
            new("max_tokens", "1"u8.ToArray()),
            new("max_completion_tokens", "1"u8.ToArray(), Append: false),
        ]);

    /// <summary>vLLM's decode request: the client's with the <c>kv_transfer_params</c> its prefill returned (a JSON value, as the prefill wrote it).</summary>
    public static byte[] VllmDecode(ReadOnlySpan<byte> body, ReadOnlySpan<byte> kvTransferParams) =>
        Splice(body, [new("kv_transfer_params", kvTransferParams.ToArray())]);

    /// <summary>SGLang's request to both the prefill and the decode instance: the client's with where the decode meets the prefill.</summary>
    public static byte[] SglangBootstrap(ReadOnlySpan<byte> body, string bootstrapHost, int bootstrapPort, long bootstrapRoom) => Splice(
        body,
        [
            new("bootstrap_host", JsonSerializer.SerializeToUtf8Bytes(bootstrapHost)),
            new("bootstrap_port", JsonSerializer.SerializeToUtf8Bytes(bootstrapPort)),
            new("bootstrap_room", JsonSerializer.SerializeToUtf8Bytes(bootstrapRoom)),
        ]);

    /// <summary>
    /// The top-level <c>kv_transfer_params</c> of a prefill's answer as the JSON it wrote; empty when it has none (or it
    /// is null, or the answer is not an object). Throws <see cref="JsonException"/> when the answer is not JSON.
    /// </summary>
    public static ReadOnlyMemory<byte> KvTransferParams(ReadOnlyMemory<byte> answer)
    {
        var reader = new Utf8JsonReader(answer.Span, new JsonReaderOptions { CommentHandling = JsonCommentHandling.Disallow });
        if (!reader.Read())
        {
            throw new JsonException("the answer has no JSON value");
        }

        var found = ReadOnlyMemory<byte>.Empty;
        if (reader.TokenType != JsonTokenType.StartObject)
        {
            // A whole document read, so that a malformed answer fails as one.
            reader.Skip();
        }
        else
        {
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                bool wanted = reader.ValueTextEquals("kv_transfer_params"u8);
                reader.Read();
                int start = (int)reader.TokenStartIndex;
                reader.Skip();
                if (wanted)
                {
                    // The last one counts, as JSON readers take a repeated property.
                    found = reader.TokenType == JsonTokenType.Null ? ReadOnlyMemory<byte>.Empty : answer[start..(int)reader.BytesConsumed];
                }
            }
        }

        if (reader.Read())
        {
            throw new JsonException("the answer has more than one JSON value");
        }

        return found;
    }

    /// <summary>A property the protocol sets (to a JSON value's bytes) or drops (null), appended at the end when the body lacks it and <paramref name="Append"/>.</summary>
    private readonly record struct Setting(string Name, byte[]? Json, bool Append = true);

    /// <summary>
    /// The body (a JSON object, as <see cref="CompletionRequest.Parse"/> checked) with each setting applied: every
    /// occurrence of its property replaced or dropped, the property appended when absent. Other properties are copied
    /// byte for byte.
    /// </summary>
    private static byte[] Splice(ReadOnlySpan<byte> body, ReadOnlySpan<Setting> settings)
    {
        Span<bool> seen = stackalloc bool[settings.Length];
        var output = new ArrayBufferWriter<byte>(body.Length + 256);
        output.Write("{"u8);
        bool first = true;
        var reader = new Utf8JsonReader(body);
        reader.Read();
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            int nameStart = (int)reader.TokenStartIndex;
            int setting = -1;
            for (int i = 0; i < settings.Length && setting < 0; i++)
            {
                if (reader.ValueTextEquals(settings[i].Name))
                {
                    setting = i;
                }
            }

            reader.Read();
            reader.Skip();
            if (setting < 0)
            {
                Separate(output, ref first);
                output.Write(body[nameStart..(int)reader.BytesConsumed]);
                continue;
            }

            seen[setting] = true;
            if (settings[setting].Json is { } json)
            {
                Separate(output, ref first);
                // The client's name as written: a name with escapes still reads as the same property.
                output.Write(body[nameStart..NameEnd(body, nameStart)]);
                output.Write(":"u8);
                output.Write(json);
            }
        }

        for (int i = 0; i < settings.Length; i++)
        {
            if (!seen[i] && settings[i] is { Json: { } json, Append: true })
            {
                Separate(output, ref first);
                output.Write("\""u8);
                output.Write(System.Text.Encoding.UTF8.GetBytes(settings[i].Name));
                output.Write("\":"u8);
                output.Write(json);
            }
        }

        output.Write("}"u8);
        return output.WrittenSpan.ToArray();
    }

    private static void Separate(ArrayBufferWriter<byte> output, ref bool first)
    {
        if (!first)
        {
            output.Write(","u8);
        }

        first = false;
    }

    /// <summary>The index just past a property name's closing quote (its opening quote at <paramref name="start"/>).</summary>
    private static int NameEnd(ReadOnlySpan<byte> body, int start)
    {
        int i = start + 1;
        while (body[i] != (byte)'"')
        {
            i += body[i] == (byte)'\\' ? 2 : 1;
        }

        return i + 1;
    }
}
