using MoePlan.Core.Compilation;
using MoePlan.Core.Placement;
using MoePlan.Tests.Support;
using Xunit;

namespace MoePlan.Core.Tests.Placement;

/// <summary>The language server's memo of placements: an edit that keeps a pool's placement problem reuses it; any
/// change of the problem places again; the answers are those of placing afresh.</summary>
public class PlacementMemoTests
{
    private const string Plan = "plans/deepseek-r1-cloudmatrix384.moe";

    private static readonly string Source = File.ReadAllText(RepositoryPaths.PathOf(Plan.Split('/')));

    private static CompilationResult Compile(string text, PlacementMemo? memo) =>
        PlanCompiler.CompileText(Plan, text, new MemorySourceResolver(new Dictionary<string, string>()), placements: memo);

    private static string Edit(string from, string to)
    {
        Assert.Contains(from, Source, StringComparison.Ordinal);
        return Source.Replace(from, to, StringComparison.Ordinal);
    }

    [Fact]
    public void An_edit_outside_the_placement_problem_reuses_both_pools_and_answers_as_placing_afresh()
    {
        var memo = new PlacementMemo();
        var first = Compile(Source, memo);
        Assert.Equal(0, memo.Hits);

        // The SLO and the decode batch are not inputs of placement (shape: slots, EP ranks, node size; loads: seed, model).
        var edited = Edit("tpot p99 < 70ms", "tpot p99 < 75ms").Replace("max_batch 96 per device", "max_batch 90 per device", StringComparison.Ordinal);
        var remembered = Compile(edited, memo);
        Assert.Equal(2, memo.Hits);
        var fresh = Compile(edited, null);

        Assert.NotNull(first.Cost);
        Assert.Equal(fresh.Cost!.PrefillImbalance, remembered.Cost!.PrefillImbalance);
        Assert.Equal(fresh.Cost.DecodeImbalance, remembered.Cost.DecodeImbalance);
        Assert.Equal(first.Cost.DecodeImbalance, remembered.Cost.DecodeImbalance);
        Assert.Equal(fresh.Diagnostics.Select(d => d.ToString()), remembered.Diagnostics.Select(d => d.ToString()));
    }

    [Theory]
    [InlineData("redundant_experts 64", "redundant_experts 32")] // shape: 288 slots, not 320
    [InlineData("loads synthetic seed 384", "loads synthetic seed 385")] // loads
    [InlineData("algorithm moeplan", "algorithm omni")] // algorithm
    public void A_change_of_the_placement_problem_places_again(string from, string to)
    {
        var memo = new PlacementMemo();
        Compile(Source, memo);
        var edited = Edit(from, to);
        var remembered = Compile(edited, memo);
        var fresh = Compile(edited, null);

        // Each of these edits changes both pools' problems: neither is answered from the memo.
        Assert.Equal(0, memo.Hits);
        Assert.Equal(fresh.Cost?.PrefillImbalance, remembered.Cost?.PrefillImbalance);
        Assert.Equal(fresh.Cost?.DecodeImbalance, remembered.Cost?.DecodeImbalance);
        Assert.Equal(fresh.Diagnostics.Select(d => d.ToString()), remembered.Diagnostics.Select(d => d.ToString()));
    }

    [Fact]
    public void A_change_of_one_pool_places_that_pool_again_only()
    {
        var memo = new PlacementMemo();
        Compile(Source, memo);

        // Prefill: 3 instances of EP 64 (5 slots per rank) instead of 6 of EP 32 (10 per rank), the same 192 NPUs:
        // its shape changes; the decode pool is as it was.
        var edited = Edit("instances 6\n    parallel { dp 32  ep 32 }", "instances 3\n    parallel { dp 64  ep 64 }");
        Assert.False(Compile(edited, null).HasErrors);
        var remembered = Compile(edited, memo);
        Assert.Equal(1, memo.Hits);
        Assert.Equal(Compile(edited, null).Cost?.PrefillImbalance, remembered.Cost?.PrefillImbalance);
    }
}
