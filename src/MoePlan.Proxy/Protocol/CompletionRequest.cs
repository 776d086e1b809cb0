using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using MoePlan.Core.Workloads;
using MoePlan.Serving.Workloads;

namespace MoePlan.Proxy.Protocol;

/// <summary>
/// An OpenAI <c>/v1/completions</c> or <c>/v1/chat/completions</c> request body, kept as the client's bytes so the proxy
/// can forward it as it came (or with only its P/D fields spliced in, <see cref="RequestBodies"/>), the fields routing
/// needs read once, and its prompt measured as the engines do: cl100k_base tokens (or the token ids a completions prompt
/// may carry) and 512-token block ids (<see cref="TiktokenPromptBlocks"/>, the simulation's hashing).
/// </summary>
public sealed class CompletionRequest
{
    /// <summary>max_tokens when a request sets none (OpenAI's completions default).</summary>
    public const int DefaultMaxTokens = 16;

    private static readonly TiktokenPromptBlocks Tokenizer = new();

    private JsonObject? _body;

    private CompletionRequest(ReadOnlyMemory<byte> json, bool chat, PromptBlocks prompt, int maxTokens, bool stream, bool includeUsage, string model)
    {
        Json = json;
        Chat = chat;
        Prompt = prompt;
        MaxTokens = maxTokens;
        Stream = stream;
        IncludeUsage = includeUsage;
        Model = model;
    }

    /// <summary>The body as the client sent it (a JSON object).</summary>
    public ReadOnlyMemory<byte> Json { get; }

    /// <summary>The body as a JSON tree, parsed on first use (the emulated engine reads its P/D fields; the proxy never needs it).</summary>
    public JsonObject Body => _body ??= (JsonObject)JsonNode.Parse(Json.Span)!;

    /// <summary>A chat completion (messages) rather than a text completion (prompt).</summary>
    public bool Chat { get; }

    public PromptBlocks Prompt { get; }

    public int MaxTokens { get; }

    /// <summary><c>stream</c> is <c>true</c>.</summary>
    public bool Stream { get; }

    /// <summary>The client asked for a usage chunk at the end of the stream (<c>stream_options.include_usage</c>).</summary>
    public bool IncludeUsage { get; }

    public string Model { get; }

    /// <summary>Parses a body; null with a message a client can act on when it is not a usable request.</summary>
    public static CompletionRequest? Parse(ReadOnlyMemory<byte> json, bool chat, out string? error)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(json);
        }
        catch (JsonException e)
        {
            error = $"the body is not JSON: {e.Message}";
            return null;
        }

        using (document)
        {
            var body = document.RootElement;
            if (body.ValueKind != JsonValueKind.Object)
            {
                error = "the body is not a JSON object";
                return null;
            }

            // A property set to null counts as absent, as it does in a JSON tree.
            int maxTokens = DefaultMaxTokens;
            if ((Property(body, "max_tokens") ?? Property(body, "max_completion_tokens")) is { } max && !(max.ValueKind == JsonValueKind.Number && max.TryGetInt32(out maxTokens) && maxTokens >= 1))
            {
                error = "max_tokens must be a whole number of 1 or more";
                return null;
            }

            PromptBlocks prompt;
            if (chat)
            {
                if (Property(body, "messages") is not { ValueKind: JsonValueKind.Array } messages || messages.GetArrayLength() == 0)
                {
                    error = "'messages' must be a non-empty array";
                    return null;
                }

                var text = new StringBuilder();
                foreach (var m in messages.EnumerateArray())
                {
                    if (m.ValueKind is not (JsonValueKind.Object or JsonValueKind.Null))
                    {
                        error = "each of 'messages' must be an object";
                        return null;
                    }

                    if (ContentText(m.ValueKind == JsonValueKind.Null ? null : Property(m, "content")) is not { } content)
                    {
                        error = "a message's 'content' must be a string or an array of parts (objects)";
                        return null;
                    }

                    text.Append(m.ValueKind == JsonValueKind.Null ? null : NodeText(Property(m, "role"))).Append(": ").Append(content).Append('\n');
                }

                prompt = Tokenizer.Of(text.ToString());
            }
            else
            {
                var p = Property(body, "prompt");
                if (p is { ValueKind: JsonValueKind.String } s && s.GetString() is { Length: > 0 } single)
                {
                    prompt = Tokenizer.Of(single);
                }
                else if (p is { ValueKind: JsonValueKind.Array } a && a.GetArrayLength() > 0 && a.EnumerateArray().All(x => x.ValueKind == JsonValueKind.Number && x.TryGetInt32(out _)))
                {
                    var ids = new int[a.GetArrayLength()];
                    int i = 0;
                    foreach (var x in a.EnumerateArray())
                    {
                        ids[i++] = x.GetInt32();
                    }

                    prompt = new PromptBlocks(ids.Length, TiktokenPromptBlocks.BlocksOf(ids));
                }
                else if (p is { ValueKind: JsonValueKind.Array } parts && parts.GetArrayLength() > 0 && parts.EnumerateArray().All(x => x.ValueKind == JsonValueKind.String))
                {
                    var joined = new StringBuilder();
                    foreach (var x in parts.EnumerateArray())
                    {
                        joined.Append(x.GetString());
                    }

                    prompt = Tokenizer.Of(joined.ToString());
                }
                else
                {
                    error = "'prompt' must be a non-empty string, array of strings or array of token ids";
                    return null;
                }
            }

            bool stream = Property(body, "stream") is { ValueKind: JsonValueKind.True };
            bool includeUsage = Property(body, "stream_options") is { ValueKind: JsonValueKind.Object } options && Property(options, "include_usage") is { ValueKind: JsonValueKind.True };
            string model = Property(body, "model") is { ValueKind: JsonValueKind.String } name ? name.GetString()! : "";
            error = null;
            return new CompletionRequest(json, chat, prompt, maxTokens, stream, includeUsage, model);
        }
    }

    /// <summary>Loads the tokenizer's vocabulary now.</summary>
    public static void WarmUp() => Tokenizer.Of("warm up");

    /// <summary>The request as the policies see it (the simulation's request record).</summary>
    public ArrivingRequest ToArriving(long id, double arrivalMilliseconds) =>
        new(id, arrivalMilliseconds, Math.Max(1, Prompt.Tokens), MaxTokens, Prompt.Blocks);

    /// <summary>A property that is there and not null (the last of repeated ones, as JSON readers take it).</summary>
    private static JsonElement? Property(JsonElement obj, string name) =>
        obj.TryGetProperty(name, out var value) && value.ValueKind != JsonValueKind.Null ? value : null;

    /// <summary>A message's content as prompt text: a string, or its parts' <c>text</c> joined; null when it is neither.</summary>
    private static string? ContentText(JsonElement? content)
    {
        switch (content)
        {
            case { ValueKind: JsonValueKind.String } s:
                return s.GetString();
            case { ValueKind: JsonValueKind.Array } parts:
                var text = new StringBuilder();
                foreach (var part in parts.EnumerateArray())
                {
                    if (part.ValueKind is not (JsonValueKind.Object or JsonValueKind.Null))
                    {
                        return null;
                    }

                    text.Append(part.ValueKind == JsonValueKind.Null ? null : NodeText(Property(part, "text")));
                }

                return text.ToString();
            default:
                // Absent or another kind (an image-only message has no text to measure).
                return "";
        }
    }

    /// <summary>A value as text in a prompt: a string as it reads, another value as JSON (as a JSON tree prints it), nothing for null.</summary>
    private static string? NodeText(JsonElement? value) => value switch
    {
        null => null,
        { ValueKind: JsonValueKind.String } s => s.GetString(),
        { } other => JsonNode.Parse(other.GetRawText())!.ToString(),
    };
}
