using MoePlan.Core.Compilation;
using MoePlan.Core.Cost;
using MoePlan.Core.Plan;
using MoePlan.Core.Search;
using MoePlan.Tests.Support;
using Xunit;

namespace MoePlan.Core.Tests.Serving;

/// <summary>Search's serving-mode dimension (<c>--vary mode=disaggregated,aggregated</c>) and winners written in either form.</summary>
public sealed class AggregatedSearchTests
{
    private const string Disaggregated = "plans/qwen3-235b-h200.moe";
    private const string Aggregated = "plans/qwen3-235b-h200-aggregated.moe";

    private static CompilationResult Compile(string path) =>
        PlanCompiler.Compile(path, MemorySourceResolver.FromRepository(path, "plans/data/azure_llm_inference_trace_code.csv"), throughVerification: true);

    [Fact]
    public void Mode_varies_the_serving_form_and_an_aggregated_candidate_is_one_pool_of_the_decode_shape()
    {
        var plan = Compile(Disaggregated).Plan!;
        var mode = SearchSpace.ParseVary("mode=disaggregated,aggregated", out var error);
        Assert.True(mode is not null, error);
        Assert.Equal([0, 1], mode.Values);
        var space = SearchSpace.Create(plan, [mode], null, out error)!;
        Assert.Equal(2, space.Count);

        var aggregated = space.PlanOf(space.Last());
        Assert.True(aggregated.IsAggregated);
        var serve = Assert.Single(aggregated.Pools);
        // The decode pool's shape (2 instances of TP8/EP8, 21 sequences per GPU, context 8192) with the prefill pool's
        // 2048 tokens per GPU as the chunked-prefill budget.
        Assert.Equal((2, 8, 8, 21, 8192, 2048), (serve.Instances.Value, serve.Parallel.TensorParallel.Value, serve.Parallel.ExpertParallel.Value,
            serve.MaxBatchPerDevice!.Value.Value, serve.ContextTokens!.Value.Value, serve.MaxBatchTokensPerDevice!.Value.Value));

        // Its ranks are counted once: 2 instances x 8.
        var report = PlanCostModel.Evaluate(aggregated, new CostOptions(Lengths: new Workloads.WorkloadLengths(2048, 2048.0 * 2048, 256, 0)));
        Assert.Equal(16, DesignSpaceSearch.Figures(0, space.Last(), aggregated, report.Figures).Ranks);
    }

    [Fact]
    public void An_aggregated_winner_of_a_disaggregated_base_is_written_as_a_serve_plan_that_checks()
    {
        var compiled = Compile(Disaggregated);
        var baseSettings = CandidateSettings.Of(compiled.Plan!);
        var wanted = baseSettings with { Aggregated = true, DecodeMaxBatch = 8, DecodeInstances = 3 };
        var text = PlanTextWriter.Write(File.ReadAllText(RepositoryPaths.PathOf(Disaggregated.Split('/'))), compiled.Syntax!, baseSettings, wanted);

        Assert.DoesNotContain("prefill {", text, StringComparison.Ordinal);
        Assert.DoesNotContain("decode {", text, StringComparison.Ordinal);
        Assert.DoesNotContain("mode sequential", text, StringComparison.Ordinal); // MP2022 in an aggregated plan
        var rewritten = PlanCompiler.CompileText("plans/written.moe", text, MemorySourceResolver.FromRepository("plans/data/azure_llm_inference_trace_code.csv"), throughVerification: true);
        Assert.DoesNotContain(rewritten.Diagnostics, d => d.IsError);
        var serve = rewritten.Plan!.Serving!;
        Assert.Equal((3, 8, 8192, 2048), (serve.Instances.Value, serve.MaxBatchPerDevice!.Value.Value, serve.ContextTokens!.Value.Value, serve.MaxBatchTokensPerDevice!.Value.Value));
    }

    [Fact]
    public void A_disaggregated_winner_of_an_aggregated_base_is_written_with_both_pools()
    {
        var compiled = Compile(Aggregated);
        var baseSettings = CandidateSettings.Of(compiled.Plan!);
        Assert.True(baseSettings.Aggregated);
        var wanted = baseSettings with { Aggregated = false };
        var text = PlanTextWriter.Write(File.ReadAllText(RepositoryPaths.PathOf(Aggregated.Split('/'))), compiled.Syntax!, baseSettings, wanted, nodes: 2);

        var rewritten = PlanCompiler.CompileText("plans/written.moe", text, MemorySourceResolver.FromRepository(), throughVerification: true);
        Assert.DoesNotContain(rewritten.Diagnostics, d => d.IsError);
        var plan = rewritten.Plan!;
        Assert.False(plan.IsAggregated);
        // Both pools take the serve pool's shape: 16 sequences and 8192 of context in decode, 1024 tokens per GPU in prefill.
        Assert.Equal((1024, 16, 8192), (plan.Prefill.MaxBatchTokensPerDevice!.Value.Value, plan.Decode.MaxBatchPerDevice!.Value.Value, plan.Decode.ContextTokens!.Value.Value));
    }
}
