using MoePlan.Core.Diagnostics;
using MoePlan.Core.Workloads;
using MoePlan.Serving.Workloads;

namespace MoePlan.Serving.Tests.Simulation;

public sealed class TraceReaderTests
{
    private static (List<ArrivingRequest> Rows, List<Diagnostic> Diagnostics) Mooncake(string text)
    {
        var diagnostics = new List<Diagnostic>();
        var rows = MooncakeTraceReader.Read(new StringReader(text), "t.jsonl", diagnostics).ToList();
        return (rows, diagnostics);
    }

    private static (List<ArrivingRequest> Rows, List<Diagnostic> Diagnostics) Azure(string text)
    {
        var diagnostics = new List<Diagnostic>();
        var rows = AzureTraceReader.Read(new StringReader(text), "t.csv", diagnostics).ToList();
        return (rows, diagnostics);
    }

    private static void AssertOne(List<Diagnostic> diagnostics, string code, int line)
    {
        var d = Assert.Single(diagnostics);
        Assert.Equal(code, d.Code);
        Assert.Equal(line, d.Span!.Value.Line);
    }

    private const string Good = """{"timestamp": 0, "input_length": 600, "output_length": 5, "hash_ids": [7, 8]}""";

    [Fact]
    public void Mooncake_rows_become_requests_with_their_blocks()
    {
        var (rows, diagnostics) = Mooncake(Good + "\n" + """{"timestamp": 40, "input_length": 512, "output_length": 1, "hash_ids": [7]}""");
        Assert.Empty(diagnostics);
        Assert.Equal(2, rows.Count);
        Assert.Equal([7L, 8L], rows[0].Blocks);
        Assert.Equal(40, rows[1].ArrivalMilliseconds);
        Assert.Equal(512, rows[1].InputTokens);
    }

    [Fact]
    public void The_shipped_mooncake_trace_parses_fully()
    {
        var diagnostics = new List<Diagnostic>();
        using var reader = new StreamReader(SimulationFixtures.PathOf("plans", "data", "mooncake_synthetic_trace.jsonl"));
        var rows = MooncakeTraceReader.Read(reader, "mooncake.jsonl", diagnostics).ToList();
        Assert.Empty(diagnostics);
        Assert.Equal(3993, rows.Count); // wc -l: 3,993 lines
        Assert.Equal(40160, rows[0].InputTokens); // the first line
        Assert.Equal(79, rows[0].Blocks.Length);
    }

    [Fact]
    public void Azure_timestamps_may_carry_a_utc_offset()
    {
        // 00:00:00.009930Z, then 00:00:01.5Z, then 01:00:02 at +01:00 = 00:00:02Z: 0, 1490.07 and 1990.07 ms.
        var (rows, diagnostics) = Azure(AzureHeader
            + "2024-05-10 00:00:00.009930+00:00,100,10\r\n"
            + "2024-05-10 00:00:01.500000+00:00,200,20\r\n"
            + "2024-05-10 01:00:02+01:00,300,30");
        Assert.Empty(diagnostics);
        Assert.Equal([0, 1490.07, 1990.07], rows.Select(r => Math.Round(r.ArrivalMilliseconds, 6)));
    }

    [Theory]
    [InlineData("", "MP5301", 1)]
    [InlineData(Good + "\n{\"timestamp\": 1, \"input_length\": 0, \"output_length\": 5, \"hash_ids\": []}", "MP5302", 2)]
    [InlineData(Good + "\n{\"timestamp\": 1, \"input_length\": 600, \"output_length\": 2.5, \"hash_ids\": [7, 8]}", "MP5302", 2)]
    [InlineData("{\"timestamp\": 50, \"input_length\": 600, \"output_length\": 5, \"hash_ids\": [7, 8]}\n" + Good, "MP5303", 2)]
    [InlineData(Good + "\n{\"timestamp\": 1, ", "MP5310", 2)]
    [InlineData("[1, 2]", "MP5310", 1)]
    [InlineData("{\"input_length\": 600, \"output_length\": 5, \"hash_ids\": [7, 8]}", "MP5311", 1)]
    [InlineData("{\"timestamp\": 0, \"output_length\": 5, \"hash_ids\": [7, 8]}", "MP5311", 1)]
    [InlineData("{\"timestamp\": 0, \"input_length\": 600, \"output_length\": 5}", "MP5311", 1)]
    [InlineData("{\"timestamp\": \"noon\", \"input_length\": 600, \"output_length\": 5, \"hash_ids\": [7, 8]}", "MP5312", 1)]
    [InlineData("{\"timestamp\": -3, \"input_length\": 600, \"output_length\": 5, \"hash_ids\": [7, 8]}", "MP5312", 1)]
    [InlineData("{\"timestamp\": 0, \"input_length\": 600, \"output_length\": 5, \"hash_ids\": [7]}", "MP5313", 1)]
    [InlineData("{\"timestamp\": 0, \"input_length\": 600, \"output_length\": 5, \"hash_ids\": [7, \"x\"]}", "MP5314", 1)]
    public void Malformed_mooncake_rows_are_diagnostics_with_line_numbers(string text, string code, int line)
    {
        var (_, diagnostics) = Mooncake(text);
        AssertOne(diagnostics, code, line);
        Assert.True(diagnostics[0].IsError);
    }

    private const string AzureHeader = "TIMESTAMP,ContextTokens,GeneratedTokens\r\n";

    [Fact]
    public void The_shipped_azure_trace_parses_fully_with_crlf_and_no_final_newline()
    {
        var path = SimulationFixtures.PathOf("plans", "data", "azure_llm_inference_trace_code.csv");
        var bytes = File.ReadAllBytes(path);
        Assert.NotEqual((byte)'\n', bytes[^1]); // no final line break
        var diagnostics = new List<Diagnostic>();
        using var reader = new StreamReader(path);
        var rows = AzureTraceReader.Read(reader, path, diagnostics).ToList();
        Assert.Empty(diagnostics);
        // 8,819 line breaks in the file (wc -l), none after the last row: the header and 8,819 rows.
        Assert.Equal(8819, rows.Count);
        Assert.Equal(0, rows[0].ArrivalMilliseconds);
        Assert.Equal(4808, rows[0].InputTokens);
        Assert.Equal(10, rows[0].OutputTokens);
        Assert.Equal(549, rows[^1].InputTokens); // the last row: 2023-11-16 19:14:19.9280160,549,173
        Assert.Equal(173, rows[^1].OutputTokens);
        // 18:17:03.9799600 to 19:14:19.9280160
        Assert.Equal(((57 * 60) + 15.948056) * 1e3, rows[^1].ArrivalMilliseconds, 6);
    }

    [Theory]
    [InlineData("", "MP5301", 1)]
    [InlineData(AzureHeader, "MP5301", 1)]
    [InlineData("time,in,out\r\n2023-11-16 18:17:03.9799600,4808,10", "MP5320", 1)]
    [InlineData(AzureHeader + "2023-11-16 18:17:03.9799600,4808", "MP5321", 2)]
    [InlineData(AzureHeader + "yesterday,4808,10", "MP5312", 2)]
    [InlineData(AzureHeader + "2023-11-16 18:17:03.9799600,4808,10\r\n2023-11-16 18:17:04.0,-1,10", "MP5302", 3)]
    [InlineData(AzureHeader + "2023-11-16 18:17:03.9799600,4808,x", "MP5302", 2)]
    [InlineData(AzureHeader + "2023-11-16 18:17:03.9799600,4808,10\r\n2023-11-16 18:17:02.0,100,10", "MP5303", 3)]
    public void Malformed_azure_rows_are_diagnostics_with_line_numbers(string text, string code, int line)
    {
        var (_, diagnostics) = Azure(text);
        AssertOne(diagnostics, code, line);
    }

    [Fact]
    public void A_trace_of_bad_lines_gives_a_hundred_diagnostics_and_one_MP5304_counting_the_rest()
    {
        // 2M bad lines printed 2M diagnostics (333 MB); 250 here: 100 passed on, 150 counted.
        var (rows, diagnostics) = Mooncake(string.Concat(Enumerable.Repeat("not json\n", 250)));
        Assert.Empty(rows);
        Assert.Equal(101, diagnostics.Count);
        Assert.All(diagnostics.Take(100), d => Assert.Equal("MP5310", d.Code));
        Assert.Equal("MP5304", diagnostics[100].Code);
        Assert.Contains("150 more problem(s)", diagnostics[100].Message, StringComparison.Ordinal);
        var (_, azure) = Azure(AzureTraceReader.Header + "\n" + string.Concat(Enumerable.Repeat("x\n", 101)));
        Assert.Equal(["MP5321", "MP5304"], azure.Skip(99).Select(d => d.Code));
    }

    [Fact]
    public void A_long_bad_value_is_quoted_as_an_excerpt_on_one_line()
    {
        // A 1 MB timestamp string with line breaks in it: the message quotes 60 characters and says how long it was.
        var huge = "\\n" + new string('9', 1_000_000);
        var (_, diagnostics) = Mooncake("{\"timestamp\": \"" + huge + "\", \"input_length\": 5, \"output_length\": 1, \"hash_ids\": [1]}\n");
        var d = Assert.Single(diagnostics);
        Assert.Equal("MP5312", d.Code);
        Assert.True(d.Message.Length < 200, d.Message);
        Assert.Contains("(1,000,004 characters)", d.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', d.ToString());
    }

    [Fact]
    public void Readers_stream_without_reading_the_whole_input()
    {
        var diagnostics = new List<Diagnostic>();
        var mooncake = MooncakeTraceReader.Read(new EndlessReader(_ => Good), "endless.jsonl", diagnostics).Take(3).ToList();
        Assert.Equal(3, mooncake.Count);
        var azure = AzureTraceReader.Read(new EndlessReader(i => i == 0 ? AzureTraceReader.Header : "2023-11-16 18:17:03.9799600,4808,10"), "endless.csv", diagnostics).Take(3).ToList();
        Assert.Equal(3, azure.Count);
        Assert.Empty(diagnostics);
    }

    /// <summary>A reader with no end: only a streaming reader can return from it.</summary>
    private sealed class EndlessReader(Func<int, string> line) : TextReader
    {
        private int _next;

        public override string ReadLine() => line(_next++);
    }
}
