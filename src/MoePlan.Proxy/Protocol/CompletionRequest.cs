using System.Text.Json;
using System.Text.Json.Nodes;
using MoePlan.Core.Workloads;
using MoePlan.Serving.Workloads;

namespace MoePlan.Proxy.Protocol;

/// <summary>
/// An OpenAI <c>/v1/completions</c> or <c>/v1/chat/completions</c> request body, kept as JSON so the proxy can forward
/// it with only its P/D fields changed, and its prompt measured as the engines do: cl100k_base tokens (or the token ids
/// a completions prompt may carry) and 512-token block ids (<see cref="TiktokenPromptBlocks"/>, the simulation's hashing).
/// </summary>
public sealed class CompletionRequest
{
    /// <summary>max_tokens when a request sets none (OpenAI's completions default).</summary>
    public const int DefaultMaxTokens = 16;

    private static readonly TiktokenPromptBlocks Tokenizer = new();

    private CompletionRequest(JsonObject body, bool chat, PromptBlocks prompt, int maxTokens)
    {
        Body = body;
        Chat = chat;
        Prompt = prompt;
        MaxTokens = maxTokens;
    }

    public JsonObject Body { get; }

    /// <summary>A chat completion (messages) rather than a text completion (prompt).</summary>
    public bool Chat { get; }

    public PromptBlocks Prompt { get; }

    public int MaxTokens { get; }

    public bool Stream => Body["stream"] is JsonValue v && v.TryGetValue<bool>(out var s) && s;

    /// <summary>The client asked for a usage chunk at the end of the stream (<c>stream_options.include_usage</c>).</summary>
    public bool IncludeUsage => Body["stream_options"]?["include_usage"] is JsonValue v && v.TryGetValue<bool>(out var u) && u;

    public string Model => Body["model"] is JsonValue v && v.TryGetValue<string>(out var m) ? m : "";

    /// <summary>Parses a body; null with a message a client can act on when it is not a usable request.</summary>
    public static CompletionRequest? Parse(ReadOnlySpan<byte> json, bool chat, out string? error)
    {
        JsonObject? body;
        try
        {
            body = JsonNode.Parse(json) as JsonObject;
        }
        catch (JsonException e)
        {
            error = $"the body is not JSON: {e.Message}";
            return null;
        }

        if (body is null)
        {
            error = "the body is not a JSON object";
            return null;
        }

        int maxTokens = DefaultMaxTokens;
        var max = body["max_tokens"] ?? body["max_completion_tokens"];
        if (max is not null && !(max is JsonValue mv && mv.TryGetValue<int>(out maxTokens) && maxTokens >= 1))
        {
            error = "max_tokens must be a whole number of 1 or more";
            return null;
        }

        PromptBlocks prompt;
        if (chat)
        {
            if (body["messages"] is not JsonArray messages || messages.Count == 0)
            {
                error = "'messages' must be a non-empty array";
                return null;
            }

            var text = new System.Text.StringBuilder();
            foreach (var m in messages)
            {
                text.Append(m?["role"]?.ToString()).Append(": ").Append(ContentText(m?["content"])).Append('\n');
            }

            prompt = Tokenizer.Of(text.ToString());
        }
        else
        {
            switch (body["prompt"])
            {
                case JsonValue v when v.TryGetValue<string>(out var s) && s.Length > 0:
                    prompt = Tokenizer.Of(s);
                    break;
                case JsonArray a when a.Count > 0 && a.All(x => x is JsonValue xv && xv.TryGetValue<int>(out _)):
                    var ids = a.Select(x => x!.GetValue<int>()).ToArray();
                    prompt = new PromptBlocks(ids.Length, TiktokenPromptBlocks.BlocksOf(ids));
                    break;
                case JsonArray a when a.Count > 0 && a.All(x => x is JsonValue xv && xv.TryGetValue<string>(out _)):
                    prompt = Tokenizer.Of(string.Concat(a.Select(x => x!.GetValue<string>())));
                    break;
                default:
                    error = "'prompt' must be a non-empty string, array of strings or array of token ids";
                    return null;
            }
        }

        error = null;
        return new CompletionRequest(body, chat, prompt, maxTokens);
    }

    /// <summary>Loads the tokenizer's vocabulary now.</summary>
    public static void WarmUp() => Tokenizer.Of("warm up");

    /// <summary>The request as the policies see it (the simulation's request record).</summary>
    public ArrivingRequest ToArriving(long id, double arrivalMilliseconds) =>
        new(id, arrivalMilliseconds, Math.Max(1, Prompt.Tokens), MaxTokens, Prompt.Blocks);

    private static string ContentText(JsonNode? content) => content switch
    {
        JsonValue v when v.TryGetValue<string>(out var s) => s,
        JsonArray parts => string.Concat(parts.Select(p => p?["text"]?.ToString() ?? "")),
        _ => "",
    };
}
