using System.Globalization;
using MoePlan.Core.Compilation;
using MoePlan.Core.Plan;
using MoePlan.Core.Text;
using MoePlan.Core.Verification;
using MoePlan.Core.Workloads;
using MoePlan.Tests.Support;
using Xunit;

namespace MoePlan.Core.Tests.Verification;

/// <summary>The workload against the deployment: request lengths against the decode context, offered rate against capacity.</summary>
public sealed class WorkloadFitTests
{
    private static readonly SourceSpan Here = new("t.moe", 0, 0, 1, 1);

    [Fact]
    public void Log_normal_lengths_are_taken_at_their_99th_percentile()
    {
        // Mean 1000, sd 1000: sigma^2 = ln(1 + 1) = 0.693147, mu = ln 1000 - sigma^2 / 2 = 6.561181,
        // p99 = exp(mu + 2.326348 sigma) = exp(6.561181 + 1.936816) = 4904.92 (computed with Python's math module), so 4905.
        Assert.Equal(4905, WorkloadFit.Upper(new LogNormalLength(Here, 1000, 1000, null, null)));
        Assert.Equal(3000, WorkloadFit.Upper(new LogNormalLength(Here, 1000, 1000, null, 3000)));
        Assert.Equal(512, WorkloadFit.Upper(new UniformLength(Here, 64, 512)));
        Assert.Equal(77, WorkloadFit.Upper(new FixedLength(Here, 77)));
    }

    private static CompilationResult CompileEdited(string plan, Func<string, string> edit)
    {
        var text = edit(File.ReadAllText(RepositoryPaths.PathOf(plan.Split('/'))));
        return PlanCompiler.CompileText(plan, text, new MemorySourceResolver(new Dictionary<string, string> { [plan] = text }, readRepository: true));
    }

    [Fact]
    public void A_prompt_longer_than_the_context_is_an_error_at_the_context_with_the_fix()
    {
        var result = CompileEdited("plans/qwen1.5-moe-tiny.moe", t => t.Replace("input uniform { min 64  max 512 }", "input fixed 4000", StringComparison.Ordinal));
        var error = Assert.Single(result.Diagnostics, d => d.IsError);
        Assert.Equal("MP3060", error.Code);
        Assert.Equal(20, error.Span!.Value.Line);
        // 4,000 prompt + 32 output tokens.
        Assert.Contains("4032 tokens", error.Message, StringComparison.Ordinal);
        Assert.Contains("context` to 4032", error.Hint, StringComparison.Ordinal);
    }

    [Fact]
    public void A_trace_is_checked_at_the_99th_percentile_of_its_requests_measured_independently()
    {
        // Independent of moeplan's reader: split the Azure CSV by hand (TIMESTAMP,ContextTokens,GeneratedTokens).
        var rows = File.ReadAllText(RepositoryPaths.PathOf("plans", "data", "azure_llm_inference_trace_code.csv"))
            .Split("\r\n", StringSplitOptions.RemoveEmptyEntries).Skip(1).Select(l => l.Split(',')).ToList();
        var totals = rows.Select(r => int.Parse(r[1], CultureInfo.InvariantCulture) + int.Parse(r[2], CultureInfo.InvariantCulture)).Order().ToList();
        var p99 = totals[(int)Math.Ceiling(0.99 * totals.Count) - 1];
        var times = rows.Select(r => DateTime.Parse(r[0], CultureInfo.InvariantCulture)).ToList();
        var rate = (rows.Count - 1) / (times.Max() - times.Min()).TotalSeconds;

        var plan = "plans/qwen3-235b-h200.moe";
        var result = PlanCompiler.Compile(plan, MemorySourceResolver.FromRepository(plan));
        Assert.False(result.HasErrors, string.Join("\n", result.Diagnostics));
        var lengths = result.Cost!.Options.Lengths!;
        Assert.Equal(p99, lengths.P99TotalTokens);
        Assert.Equal(totals[^1], lengths.MaxTotalTokens);
        Assert.Equal(rate, lengths.ArrivalRatePerSecond!.Value, 6);

        // The sample's context once was 4,096: 14% of the trace's requests are longer.
        var small = CompileEdited(plan, t => t.Replace("context 8192", "context 4096", StringComparison.Ordinal));
        var error = Assert.Single(small.Diagnostics, d => d.IsError);
        Assert.Equal("MP3060", error.Code);
        Assert.Contains($"p99 prompt + output is {p99} tokens", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void An_offered_rate_above_capacity_is_a_warning_naming_both_figures()
    {
        var plan = "plans/qwen1.5-moe-tiny.moe";
        var clean = PlanCompiler.Compile(plan, MemorySourceResolver.FromRepository(plan));
        var report = clean.Cost!.Report!;
        var capacity = Math.Min(report.PrefillCapacityRequestsPerSecond, report.DecodeCapacityRequestsPerSecond);
        Assert.DoesNotContain(clean.Diagnostics, d => d.Code == "MP3061");

        var below = CompileEdited(plan, t => t.Replace("arrivals constant 4/s", $"arrivals constant {Math.Floor(capacity * 0.95)}/s", StringComparison.Ordinal));
        Assert.DoesNotContain(below.Diagnostics, d => d.Code == "MP3061");

        var offered = Math.Ceiling(capacity * 2);
        var above = CompileEdited(plan, t => t.Replace("arrivals constant 4/s", $"arrivals constant {offered}/s", StringComparison.Ordinal));
        var warning = Assert.Single(above.Diagnostics, d => d.Code == "MP3061");
        Assert.False(warning.IsError);
        Assert.Contains($"offers {offered.ToString("0.0", CultureInfo.InvariantCulture)} req/s", warning.Message, StringComparison.Ordinal);
        Assert.Contains($"gives the deployment {capacity.ToString("0.0", CultureInfo.InvariantCulture)} req/s", warning.Message, StringComparison.Ordinal);
        Assert.Equal(30, warning.Span!.Value.Line);
    }

    [Fact]
    public void A_mooncake_traces_prefix_share_counts_the_leading_blocks_seen_before()
    {
        // Request 1: 1,024 tokens, blocks 1 2 (nothing seen). Request 2: 1,500 tokens, blocks 1 2 3: its first two
        // blocks were seen, 1,024 tokens. Request 3: 600 tokens, blocks 9 2: block 9 is new, so no leading reuse.
        // Share = 1,024 / (1,024 + 1,500 + 600) = 0.327785.
        var trace = """
            {"timestamp": 0, "input_length": 1024, "output_length": 10, "hash_ids": [1, 2]}
            {"timestamp": 500, "input_length": 1500, "output_length": 10, "hash_ids": [1, 2, 3]}
            {"timestamp": 1000, "input_length": 600, "output_length": 10, "hash_ids": [9, 2]}
            """;
        var (lengths, diagnostics) = WorkloadLengths.Measure(new TraceSource(Here, "t.jsonl", TraceFormat.Mooncake), "t.jsonl", new StringReader(trace));
        Assert.Empty(diagnostics);
        Assert.Equal(1024.0 / 3124, lengths!.PrefixShare, 9);
        // Two intervals over one second.
        Assert.Equal(2.0, lengths.ArrivalRatePerSecond!.Value, 9);
        Assert.Equal(1510, lengths.MaxTotalTokens);
    }
}
