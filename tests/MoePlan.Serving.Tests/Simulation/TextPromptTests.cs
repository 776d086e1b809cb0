using System.IO.Hashing;
using System.Text.Json;
using Microsoft.ML.Tokenizers;
using MoePlan.Core.Diagnostics;
using MoePlan.Core.Workloads;
using MoePlan.Serving.Workloads;

namespace MoePlan.Serving.Tests.Simulation;

/// <summary>Traces carrying prompt text: tokenised with cl100k_base, blocks as chained hashes.</summary>
public sealed class TextPromptTests
{
    private static readonly TiktokenPromptBlocks Blocks = new();

    [Theory]
    // tiktoken's README and OpenAI's cookbook ("How to count tokens with tiktoken"), cl100k_base:
    // "hello world" -> [15339, 1917]; "tiktoken is great!" -> [83, 1609, 5963, 374, 2294, 0].
    [InlineData("hello world", new[] { 15339, 1917 })]
    [InlineData("tiktoken is great!", new[] { 83, 1609, 5963, 374, 2294, 0 })]
    public void Token_counts_are_cl100k_bases(string text, int[] published)
    {
        Assert.Equal(published, TiktokenTokenizer.CreateForEncoding("cl100k_base").EncodeToIds(text));
        var b = Blocks.Of(text);
        Assert.Equal(published.Length, b.Tokens);
        Assert.Single(b.Blocks);
    }

    /// <summary>Reference: block i = XxHash64(previous hash, 8 bytes LE ++ the block's token ids, 4 bytes LE each), low 63 bits.</summary>
    private static long[] ReferenceBlocks(IReadOnlyList<int> ids)
    {
        var result = new List<long>();
        ulong previous = 0;
        for (int first = 0; first < ids.Count; first += 512)
        {
            var bytes = new List<byte>(BitConverter.GetBytes(previous));
            if (!BitConverter.IsLittleEndian)
            {
                throw new PlatformNotSupportedException();
            }

            foreach (var id in ids.Skip(first).Take(512))
            {
                bytes.AddRange(BitConverter.GetBytes(id));
            }

            previous = XxHash64.HashToUInt64(bytes.ToArray());
            result.Add((long)(previous & long.MaxValue));
        }

        return result.ToArray();
    }

    [Fact]
    public void Prompts_sharing_a_long_prefix_share_its_blocks_and_differ_after()
    {
        // A 600-word shared prefix (over 1,024 tokens: numbers tokenise to several tokens each), then different questions.
        var prefix = string.Join(' ', Enumerable.Range(0, 600).Select(i => $"item{i * 7919 % 1000}")) + ".\n";
        var a = Blocks.Of(prefix + "What is the first item?");
        var b = Blocks.Of(prefix + "Summarise all the items in one sentence, please.");
        var tokenizer = TiktokenTokenizer.CreateForEncoding("cl100k_base");
        int prefixTokens = tokenizer.CountTokens(prefix);
        Assert.True(prefixTokens > 1024, $"{prefixTokens} prefix tokens");
        Assert.Equal(ReferenceBlocks(tokenizer.EncodeToIds(prefix + "What is the first item?")), a.Blocks);
        Assert.Equal(a.Tokens, tokenizer.CountTokens(prefix + "What is the first item?"));
        Assert.Equal(ArrivingRequest.BlocksFor(a.Tokens), a.Blocks.Length);
        // Blocks entirely inside the prefix are equal; the last blocks (the questions) differ.
        int shared = prefixTokens / 512;
        Assert.True(shared >= 2);
        Assert.Equal(a.Blocks.Take(shared), b.Blocks.Take(shared));
        Assert.NotEqual(a.Blocks[^1], b.Blocks[^1]);
        Assert.Equal(a.Blocks.Length, a.Blocks.Distinct().Count());
    }

    [Fact]
    public void Trace_rows_with_prompt_text_are_tokenised()
    {
        var diagnostics = new List<Diagnostic>();
        var text = """
            {"timestamp": 0, "prompt": "hello world", "output_length": 5}
            {"timestamp": 3, "input_length": 600, "output_length": 5, "hash_ids": [7, 8]}
            {"timestamp": 4, "prompt": 5, "output_length": 5}
            {"timestamp": 5, "prompt": "", "output_length": 5}
            """;
        var rows = MooncakeTraceReader.Read(new StringReader(text), "t.jsonl", diagnostics, Blocks).ToList();
        Assert.Equal(2, rows.Count);
        Assert.Equal(2, rows[0].InputTokens); // "hello world": 2 tokens
        Assert.Equal(5, rows[0].OutputTokens);
        Assert.Equal([7L, 8L], rows[1].Blocks); // a token-count row in the same file
        Assert.Equal(["MP5315", "MP5315"], diagnostics.Select(d => d.Code));
        Assert.Equal([3, 4], diagnostics.Select(d => d.Span!.Value.Line));
    }

    [Fact]
    public void The_shipped_text_trace_parses_and_its_system_prompts_share_blocks()
    {
        var path = SimulationFixtures.PathOf("plans", "data", "text_prompt_trace.jsonl");
        var diagnostics = new List<Diagnostic>();
        using var reader = new StreamReader(path);
        var rows = MooncakeTraceReader.Read(reader, path, diagnostics, Blocks).ToList();
        Assert.Empty(diagnostics);
        Assert.Equal(File.ReadLines(path).Count(), rows.Count);
        // Rows that start with the same system prompt (the text before "User: ") share their first block.
        var system = File.ReadLines(path).Select(l => JsonDocument.Parse(l).RootElement.GetProperty("prompt").GetString()!.Split("User: ")[0]).ToList();
        for (int i = 1; i < rows.Count; i++)
        {
            Assert.Equal(system[i] == system[0], rows[i].Blocks[0] == rows[0].Blocks[0]);
        }
    }
}
