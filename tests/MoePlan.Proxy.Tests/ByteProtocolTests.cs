using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using MoePlan.Core.Workloads;
using MoePlan.Proxy.Protocol;
using MoePlan.Serving.Workloads;

namespace MoePlan.Proxy.Tests;

/// <summary>
/// The proxy reads and rewrites request bodies and relays streams as bytes (no JSON tree per request). Each test's
/// expectation is the JSON-tree way the proxy did it before (kept here as the reference), or the bytes written out.
/// </summary>
public sealed class ByteProtocolTests
{
    private static readonly TiktokenPromptBlocks Tokenizer = new();

    private static readonly string LongText = string.Concat(Enumerable.Range(0, 700).Select(i => $"word{i} "));

    public static TheoryData<string, bool> Bodies => new()
    {
        { """{"model":"m","prompt":"Hello, how are you today?","max_tokens":3,"stream":true}""", false },
        { """{"model":"m","prompt":["Hello, ","how are you?"],"max_completion_tokens":5}""", false },
        { $$"""{"prompt":[{{string.Join(',', Enumerable.Range(0, 1200))}}],"max_tokens":null,"max_completion_tokens":7}""", false },
        { $$$"""{"prompt":"{{{LongText}}}","stream":false,"stream_options":{"include_usage":true}}""", false },
        { """{"prompt":"caf\u00e9 \u00fc \ud83d\ude00","stream":true,"stream_options":{"include_usage":true},"model":"x"}""", false },
        { """ { "prompt" : "spaced" , "max_tokens" : 2 } """, false },
        { """{"prompt":"x","max_tokens":0}""", false },
        { """{"prompt":"x","max_tokens":3.5}""", false },
        { """{"prompt":"x","max_tokens":"3"}""", false },
        { """{"prompt":3}""", false },
        { """{"prompt":""}""", false },
        { """{"prompt":[]}""", false },
        { """{"prompt":[1,"a"]}""", false },
        { """{"prompt":"x","stream":"yes"}""", false },
        { """{""", false },
        { "", false },
        { "[1,2]", false },
        { "null", false },
        { """{"prompt":"x"} trailing""", false },
        { """{"model":"m","messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"Hi"}],"stream":true}""", true },
        { """{"messages":[{"role":"user","content":[{"type":"text","text":"Look: "},{"type":"image_url","image_url":{"url":"x"}},{"type":"text","text":"this"}]}]}""", true },
        { """{"messages":[{"role":7,"content":3},{"content":"no role"},null,{"role":{"a":1},"content":[null,{"text":5}]}]}""", true },
        { """{"messages":[]}""", true },
        { """{"messages":"hi"}""", true },
        { $$"""{"messages":[{"role":"user","content":"{{LongText}}"}],"max_tokens":9}""", true },
    };

    [Theory]
    [MemberData(nameof(Bodies))]
    public void ARequestReadsAsItsJsonTreeDid(string json, bool chat)
    {
        var bytes = Encoding.UTF8.GetBytes(json);
        var expected = Reference.Parse(bytes, chat);
        var request = CompletionRequest.Parse(bytes, chat, out var error);
        Assert.Equal(expected.Error, error);
        if (expected.Error is not null)
        {
            Assert.Null(request);
            return;
        }

        Assert.NotNull(request);
        Assert.Equal(expected.MaxTokens, request.MaxTokens);
        Assert.Equal(expected.Prompt.Tokens, request.Prompt.Tokens);
        Assert.Equal(expected.Prompt.Blocks, request.Prompt.Blocks);
        Assert.Equal(expected.Stream, request.Stream);
        Assert.Equal(expected.IncludeUsage, request.IncludeUsage);
        Assert.Equal(expected.Model, request.Model);
        Assert.True(JsonNode.DeepEquals(JsonNode.Parse(json), request.Body));
    }

    [Fact]
    public void TheLongPromptsSpanBlocks()
    {
        // The theory's long prompts measure more than one 512-token block, so block ids are compared, not only empty lists.
        Assert.True(CompletionRequest.Parse(Encoding.UTF8.GetBytes($$"""{"prompt":"{{LongText}}"}"""), false, out _)!.Prompt.Blocks.Length >= 2);
        // 1,200 token ids: two whole 512-token blocks and a last partial one.
        Assert.Equal(3, CompletionRequest.Parse(Encoding.UTF8.GetBytes($$"""{"prompt":[{{string.Join(',', Enumerable.Range(0, 1200))}}]}"""), false, out _)!.Prompt.Blocks.Length);
    }

    [Theory]
    [InlineData("""{"messages":["hi"]}""")]
    [InlineData("""{"messages":[{"role":"user","content":["hi"]}]}""")]
    public void AMessageOrPartThatIsNotAnObjectIsABadRequest(string json)
    {
        // The JSON tree threw on these (an indexer on a string), which became a 500; now a 400 the client can act on.
        Assert.Null(CompletionRequest.Parse(Encoding.UTF8.GetBytes(json), true, out var error));
        Assert.Contains("must be", error, StringComparison.Ordinal);
    }

    public static TheoryData<string> BodiesToSplice => new()
    {
        """{"model":"m","prompt":"Hello","max_tokens":3,"stream":true}""",
        """{"model":"m","prompt":"Hello","stream":true,"stream_options":{"include_usage":true},"max_completion_tokens":40,"kv_transfer_params":{"old":1}}""",
        """ {  "prompt" : "caf\u00e9 é" ,"max\u005ftokens":  12 , "n" : [1, {"a": null}] } """,
        """{"messages":[{"role":"user","content":"Hi"}]}""",
        """{}""",
    };

    [Theory]
    [MemberData(nameof(BodiesToSplice))]
    public void TheVllmPrefillBodyIsTheClientsWithItsPdFieldsSet(string json)
    {
        var expected = JsonNode.Parse(json)!.AsObject();
        expected["kv_transfer_params"] = new JsonObject
        {
            ["do_remote_decode"] = true,
            ["do_remote_prefill"] = false,
            ["remote_engine_id"] = null,
            ["remote_block_ids"] = null,
            ["remote_host"] = null,
            ["remote_port"] = null,
        };
        expected["stream"] = false;
        expected.Remove("stream_options");
        expected["max_tokens"] = 1;
        if (expected.ContainsKey("max_completion_tokens"))
        {
            expected["max_completion_tokens"] = 1;
        }

        var spliced = Protocol.RequestBodies.VllmPrefill(Encoding.UTF8.GetBytes(json));
        Assert.True(JsonNode.DeepEquals(expected, JsonNode.Parse(spliced)), Encoding.UTF8.GetString(spliced));
    }

    [Theory]
    [MemberData(nameof(BodiesToSplice))]
    public void TheVllmDecodeAndSglangBodiesAreTheClientsWithTheirFieldsSet(string json)
    {
        const string Kv = """{"do_remote_prefill":true,"remote_block_ids":[0,1,2],"remote_host":"10.0.0.1","remote_port":7001}""";
        var decode = JsonNode.Parse(json)!.AsObject();
        decode["kv_transfer_params"] = JsonNode.Parse(Kv);
        Assert.True(JsonNode.DeepEquals(decode, JsonNode.Parse(Protocol.RequestBodies.VllmDecode(Encoding.UTF8.GetBytes(json), Encoding.UTF8.GetBytes(Kv)))));

        var sglang = JsonNode.Parse(json)!.AsObject();
        sglang["bootstrap_host"] = "host\"quoted";
        sglang["bootstrap_port"] = 8998;
        sglang["bootstrap_room"] = 4611686014132420609L;
        Assert.True(JsonNode.DeepEquals(sglang, JsonNode.Parse(Protocol.RequestBodies.SglangBootstrap(Encoding.UTF8.GetBytes(json), "host\"quoted", 8998, 4611686014132420609L))));
    }

    [Fact]
    public void PropertiesTheProtocolDoesNotSetAreCopiedByteForByte()
    {
        // Escapes, raw UTF-8 and spacing survive as the client wrote them (a JSON tree would have re-encoded them).
        const string Kept = "\"prompt\" : \"caf\\u00e9 é\\n\"";
        var spliced = Encoding.UTF8.GetString(Protocol.RequestBodies.VllmPrefill(Encoding.UTF8.GetBytes("{ " + Kept + ", \"stream\": true }")));
        Assert.Equal("{" + Kept + ",\"stream\":false,\"kv_transfer_params\":{\"do_remote_decode\":true,\"do_remote_prefill\":false,\"remote_engine_id\":null,\"remote_block_ids\":null,\"remote_host\":null,\"remote_port\":null},\"max_tokens\":1}", spliced);
    }

    [Theory]
    [InlineData("""{"id":"x","kv_transfer_params":{"a":[1,2],"b":"c"},"choices":[]}""", """{"a":[1,2],"b":"c"}""")]
    [InlineData("""{"kv_transfer_params" : [ 1 ] }""", "[ 1 ]")]
    [InlineData("""{"kv_transfer_params":1,"kv_transfer_params":{"last":true}}""", """{"last":true}""")]
    [InlineData("""{"id":"x"}""", "")]
    [InlineData("""{"kv_transfer_params":null}""", "")]
    [InlineData("""[{"kv_transfer_params":1}]""", "")]
    public void APrefillsKvTransferParamsAreReadAsItWroteThem(string answer, string expected) =>
        Assert.Equal(expected, Encoding.UTF8.GetString(Protocol.RequestBodies.KvTransferParams(Encoding.UTF8.GetBytes(answer)).Span));

    [Theory]
    [InlineData("")]
    [InlineData("{")]
    [InlineData("""{"kv_transfer_params":{"a":1}""")]
    [InlineData("""{"a":1} {"b":2}""")]
    [InlineData("not json")]
    public void APrefillAnswerThatIsNotJsonThrows(string answer) =>
        Assert.ThrowsAny<JsonException>(() => Protocol.RequestBodies.KvTransferParams(Encoding.UTF8.GetBytes(answer)));

    [Theory]
    [InlineData("abc\ndef", false, true, 3, 1)]
    [InlineData("abc\r\ndef", false, true, 3, 2)]
    [InlineData("abc\rdef", false, true, 3, 1)]
    [InlineData("\n", false, true, 0, 1)]
    [InlineData("abc\r", false, false, 3, 1)]
    [InlineData("abc\r", true, true, 3, 1)]
    [InlineData("abc", true, false, -1, 0)]
    public void LinesEndAtLfCrlfOrCr(string data, bool final, bool found, int lineLength, int endLength)
    {
        Assert.Equal(found, StreamEvents.TryFindLine(Encoding.UTF8.GetBytes(data), final, out int line, out int end));
        Assert.Equal(lineLength, line);
        if (found)
        {
            Assert.Equal(endLength, end);
        }
    }

    [Theory]
    [InlineData("data: [DONE]", StreamLineKind.Done, 0)]
    [InlineData("data:[DONE]  ", StreamLineKind.Done, 0)]
    [InlineData("data: {\"error\":{\"message\":\"boom\"}}", StreamLineKind.Error, 0)]
    [InlineData("data: {\"choices\":[],\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":7}}", StreamLineKind.Usage, 7)]
    [InlineData("data: {\"choices\":[{\"text\":\" the\"}],\"usage\":null}", StreamLineKind.Token, 0)]
    [InlineData("data: {\"choices\":[{\"text\":\" the\"}]}", StreamLineKind.Token, 0)]
    [InlineData("data: {not json \"usage\"", StreamLineKind.Token, 0)]
    [InlineData(": keep-alive", StreamLineKind.Other, 0)]
    [InlineData("", StreamLineKind.Other, 0)]
    [InlineData("event: message", StreamLineKind.Other, 0)]
    public void StreamLinesAreClassifiedAsTheProxyCountsThem(string line, StreamLineKind kind, int usage)
    {
        Assert.Equal(kind, StreamEvents.Classify(Encoding.UTF8.GetBytes(line), out int tokens));
        Assert.Equal(usage, tokens);
    }

    /// <summary>The proxy's request reading as it was, on a JSON tree: the reference for <see cref="CompletionRequest.Parse"/>.</summary>
    private static class Reference
    {
        public static (string? Error, int MaxTokens, PromptBlocks Prompt, bool Stream, bool IncludeUsage, string Model) Parse(byte[] json, bool chat)
        {
            JsonObject? body;
            try
            {
                body = JsonNode.Parse(json) as JsonObject;
            }
            catch (JsonException e)
            {
                return ($"the body is not JSON: {e.Message}", 0, default!, false, false, "");
            }

            if (body is null)
            {
                return ("the body is not a JSON object", 0, default!, false, false, "");
            }

            int maxTokens = CompletionRequest.DefaultMaxTokens;
            var max = body["max_tokens"] ?? body["max_completion_tokens"];
            if (max is not null && !(max is JsonValue mv && mv.TryGetValue<int>(out maxTokens) && maxTokens >= 1))
            {
                return ("max_tokens must be a whole number of 1 or more", 0, default!, false, false, "");
            }

            PromptBlocks prompt;
            if (chat)
            {
                if (body["messages"] is not JsonArray messages || messages.Count == 0)
                {
                    return ("'messages' must be a non-empty array", 0, default!, false, false, "");
                }

                var text = new StringBuilder();
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
                        return ("'prompt' must be a non-empty string, array of strings or array of token ids", 0, default!, false, false, "");
                }
            }

            bool stream = body["stream"] is JsonValue sv && sv.TryGetValue<bool>(out var st) && st;
            bool usage = body["stream_options"]?["include_usage"] is JsonValue uv && uv.TryGetValue<bool>(out var u) && u;
            string model = body["model"] is JsonValue nv && nv.TryGetValue<string>(out var n) ? n : "";
            return (null, maxTokens, prompt, stream, usage, model);
        }

        private static string ContentText(JsonNode? content) => content switch
        {
            JsonValue v when v.TryGetValue<string>(out var s) => s,
            JsonArray parts => string.Concat(parts.Select(p => p?["text"]?.ToString() ?? "")),
            _ => "",
        };
    }
}
