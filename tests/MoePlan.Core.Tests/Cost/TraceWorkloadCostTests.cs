using System.Globalization;
using MoePlan.Core.Compilation;
using MoePlan.Tests.Support;
using Xunit;

namespace MoePlan.Core.Tests.Cost;

/// <summary>A plan whose workload is a trace is costed with the lengths of that trace, never with made-up ones.</summary>
public sealed class TraceWorkloadCostTests
{
    private const string Plan = "plans/qwen3-235b-h200.moe";

    [Fact]
    public void Decode_kv_length_is_the_traces_mean_prompt_plus_half_its_mean_output()
    {
        // Independent of moeplan's reader: split the CSV by hand (header, then TIMESTAMP,ContextTokens,GeneratedTokens).
        var rows = File.ReadAllText(RepositoryPaths.PathOf("plans", "data", "azure_llm_inference_trace_code.csv"))
            .Split("\r\n", StringSplitOptions.RemoveEmptyEntries)
            .Skip(1)
            .Select(line => line.Split(','))
            .ToList();
        var meanInput = rows.Average(r => double.Parse(r[1], CultureInfo.InvariantCulture));
        var meanOutput = rows.Average(r => double.Parse(r[2], CultureInfo.InvariantCulture));

        var result = PlanCompiler.Compile(Plan, MemorySourceResolver.FromRepository(Plan));
        Assert.False(result.HasErrors, string.Join("\n", result.Diagnostics));
        var lengths = result.Cost!.Options.Lengths!;
        Assert.Equal(rows.Count, lengths.Requests);
        Assert.Equal(meanInput, lengths.MeanInputTokens, 6);
        Assert.Equal(meanOutput, lengths.MeanOutputTokens, 6);
        Assert.Equal(meanInput + (meanOutput / 2), result.Cost.Report!.Decode.KvLength, 6);
    }

    [Fact]
    public void A_missing_trace_is_a_cannot_read_error_at_the_trace_setting()
    {
        var text = File.ReadAllText(RepositoryPaths.PathOf(Plan.Split('/'))).Replace("data/azure_llm_inference_trace_code.csv", "data/missing.csv", StringComparison.Ordinal);
        var result = PlanCompiler.CompileText(Plan, text, new MemorySourceResolver(new Dictionary<string, string>()));
        var error = Assert.Single(result.Diagnostics, d => d.IsError);
        Assert.Equal("MP2011", error.Code);
        Assert.Contains("plans/data/missing.csv", error.Message, StringComparison.Ordinal);
    }
}
