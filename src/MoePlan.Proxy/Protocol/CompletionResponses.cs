using System.Text.Json.Nodes;

namespace MoePlan.Proxy.Protocol;

/// <summary>OpenAI response bodies and stream chunks as vLLM and SGLang write them (text and chat completions).</summary>
public static class CompletionResponses
{
    /// <summary>Text an emulated engine generates per token: one cl100k_base token (" the"), so the text re-tokenises to the count.</summary>
    public const string TokenText = " the";

    public static JsonObject Whole(string id, string model, bool chat, string text, int promptTokens, int completionTokens, string finishReason, int cachedTokens = 0)
    {
        var choice = chat
            ? new JsonObject { ["index"] = 0, ["message"] = new JsonObject { ["role"] = "assistant", ["content"] = text }, ["finish_reason"] = finishReason }
            : new JsonObject { ["index"] = 0, ["text"] = text, ["logprobs"] = null, ["finish_reason"] = finishReason };
        return new JsonObject
        {
            ["id"] = id,
            ["object"] = chat ? "chat.completion" : "text_completion",
            ["created"] = DateTimeOffset.UtcNow.ToUnixTimeSeconds(),
            ["model"] = model,
            ["choices"] = new JsonArray(choice),
            ["usage"] = Usage(promptTokens, completionTokens, cachedTokens),
        };
    }

    /// <summary>One stream chunk carrying <paramref name="text"/>; a finish reason on the last.</summary>
    public static JsonObject Chunk(string id, string model, bool chat, string text, string? finishReason)
    {
        var choice = chat
            ? new JsonObject { ["index"] = 0, ["delta"] = new JsonObject { ["content"] = text }, ["finish_reason"] = finishReason }
            : new JsonObject { ["index"] = 0, ["text"] = text, ["logprobs"] = null, ["finish_reason"] = finishReason };
        return new JsonObject
        {
            ["id"] = id,
            ["object"] = chat ? "chat.completion.chunk" : "text_completion",
            ["created"] = DateTimeOffset.UtcNow.ToUnixTimeSeconds(),
            ["model"] = model,
            ["choices"] = new JsonArray(choice),
        };
    }

    /// <summary>The usage chunk that ends a stream when the client asked for it (empty choices).</summary>
    public static JsonObject UsageChunk(string id, string model, bool chat, int promptTokens, int completionTokens, int cachedTokens = 0) => new()
    {
        ["id"] = id,
        ["object"] = chat ? "chat.completion.chunk" : "text_completion",
        ["created"] = DateTimeOffset.UtcNow.ToUnixTimeSeconds(),
        ["model"] = model,
        ["choices"] = new JsonArray(),
        ["usage"] = Usage(promptTokens, completionTokens, cachedTokens),
    };

    /// <summary>An OpenAI error object (also the stream's error event).</summary>
    public static JsonObject Error(string message, string type, int code) =>
        new() { ["error"] = new JsonObject { ["message"] = message, ["type"] = type, ["code"] = code } };

    /// <summary>OpenAI usage, with vLLM's <c>prompt_tokens_details.cached_tokens</c> (prompt tokens the prefix cache served).</summary>
    public static JsonObject Usage(int promptTokens, int completionTokens, int cachedTokens = 0) => new()
    {
        ["prompt_tokens"] = promptTokens,
        ["completion_tokens"] = completionTokens,
        ["total_tokens"] = promptTokens + completionTokens,
        ["prompt_tokens_details"] = new JsonObject { ["cached_tokens"] = cachedTokens },
    };

    /// <summary>Text of a chunk or whole response's first choice (text, delta.content or message.content); empty when none.</summary>
    public static string ChoiceText(JsonNode? response)
    {
        var choice = response?["choices"] is JsonArray { Count: > 0 } a ? a[0] : null;
        return choice?["text"]?.ToString() ?? choice?["delta"]?["content"]?.ToString() ?? choice?["message"]?["content"]?.ToString() ?? "";
    }
}
