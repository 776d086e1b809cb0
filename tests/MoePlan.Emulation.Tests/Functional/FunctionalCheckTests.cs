using System.Text.Json;
using MoePlan.Core.Compilation;
using MoePlan.Core.Placement;
using MoePlan.Core.Plan;
using MoePlan.Emulation.Functional;
using MoePlan.Tests.Support;

namespace MoePlan.Emulation.Tests.Functional;

public class FunctionalCheckTests
{
    private const string Tiny = "plans/qwen1.5-moe-tiny.moe";

    /// <summary>
    /// The tiny plan folded by hand: decode EP 4 fits on 4 emulated devices (one plan rank each), all 4 in one scale-up
    /// domain (2 Ascend 910C x 2 dies); Qwen1.5-MoE's 60 routed experts + the plan's 4 redundant = 64 slots, 16 per
    /// device; one expert group, even slots, no replica or slot caps.
    /// </summary>
    private static readonly PlacementShape TinyShape = new(64, 4, 4);

    private static DeploymentPlan Compile(string? algorithm = null)
    {
        var resolver = MemorySourceResolver.FromRepository(Tiny);
        var text = File.ReadAllText(RepositoryPaths.PathOf("plans", "qwen1.5-moe-tiny.moe"));
        var result = PlanCompiler.CompileText(Tiny, algorithm is null ? text : text.Replace("algorithm moeplan", $"algorithm {algorithm}", StringComparison.Ordinal), resolver);
        Assert.True(result.Plan is not null, string.Join(Environment.NewLine, result.Diagnostics));
        return result.Plan;
    }

    /// <summary>What the named algorithm returns for the layer's own loads on the hand-folded shape.</summary>
    private static int[][] Expected(string algorithm, FunctionalLayerReport layer)
    {
        var (problem, diagnostics) = PlacementProblem.Create(ExpertLoads.Create([layer.Layer], [layer.RoutingLoads]), TinyShape);
        Assert.True(problem is not null, string.Join("; ", diagnostics));
        return Layout(PlacementAlgorithms.Place(algorithm, problem).Placement!.Layers.Single());
    }

    private static int[][] Layout(LayerPlacement placement) => placement.DeviceExperts.Select(d => d.ToArray()).ToArray();

    [Fact]
    public void The_tiny_plan_passes_at_the_scaled_size()
    {
        var report = FunctionalCheck.Run(Compile(), seed: 1);
        Assert.True(report.Passed);
        // min(4, 24 MoE layers); EP 4 -> 4 devices; 4 devices x 8 tokens.
        Assert.Equal(4, report.Layers.Count);
        Assert.Equal(4, report.Devices);
        Assert.Equal(1, report.Fold);
        Assert.Equal(32, report.Tokens);
        Assert.All(report.Layers, l =>
        {
            Assert.True(l.MoeWithinBound);
            Assert.Equal(0, l.RoutingMismatches);
            Assert.InRange(l.MoeRelError, 1e-5, l.MoeThreeSigmaRel); // bf16 roundings happened, within 3 sigma
        });
    }

    [Fact]
    public void Each_layer_is_placed_by_the_plans_algorithm_from_the_batchs_routing_loads()
    {
        var report = FunctionalCheck.Run(Compile(), seed: 1);
        Assert.Equal("moeplan", report.PlacementAlgorithm);
        Assert.Contains(report.Notes, n => n.Contains("placement algorithm moeplan", StringComparison.Ordinal));
        foreach (var layer in report.Layers)
        {
            // 32 tokens, each routed to its top-4 experts.
            Assert.Equal(32 * 4, layer.RoutingLoads.Sum());
            Assert.Equal(Expected("moeplan", layer), Layout(layer.Placement));
        }
    }

    [Fact]
    public void A_plan_naming_another_algorithm_places_differently_and_computes_the_same_outputs()
    {
        var moeplan = FunctionalCheck.Run(Compile(), seed: 1);
        var eplb = FunctionalCheck.Run(Compile("eplb-global"), seed: 1);
        Assert.True(eplb.Passed);
        Assert.Equal("eplb-global", eplb.PlacementAlgorithm);
        Assert.Contains(eplb.Notes, n => n.Contains("placement algorithm eplb-global", StringComparison.Ordinal));
        foreach (var layer in eplb.Layers)
        {
            Assert.Equal(Expected("eplb-global", layer), Layout(layer.Placement));
        }

        Assert.Contains(Enumerable.Range(0, 4), i => !Layout(moeplan.Layers[i].Placement).SequenceEqual(Layout(eplb.Layers[i].Placement), IntArrays.Comparer));

        // Where a token's expert runs does not change its arithmetic: the same errors and loads, layer after layer.
        Assert.Equal(moeplan.Layers.Select(l => l.MoeRelError), eplb.Layers.Select(l => l.MoeRelError));
        Assert.Equal(moeplan.Layers.Select(l => l.RoutingLoads.ToArray()), eplb.Layers.Select(l => l.RoutingLoads.ToArray()));
    }

    [Fact]
    public void The_folded_shape_keeps_the_plans_slots_and_scales_its_caps_by_the_fold()
    {
        // openPangu on Ascend 910C: decode EP 64, omni, uneven. 64 -> 8 emulated devices, 8 plan ranks each.
        var compiled = PlanCompiler.Compile("plans/openpangu-718b-ascend910c.moe", MemorySourceResolver.FromRepository("plans/openpangu-718b-ascend910c.moe"));
        var plan = compiled.Plan!;
        var rank = PlanPlacement.ShapeOf(plan, PoolRole.Decode);
        var folded = FunctionalPlacement.For(plan, 8, 8);
        Assert.Equal("omni", folded.Algorithm);
        Assert.Equal(rank.PhysicalExperts, folded.Shape.PhysicalExperts);
        Assert.Equal(8, folded.Shape.Devices);
        Assert.True(folded.Shape.AllowUneven);
        Assert.Equal(rank.MaxSlotsPerDevice * 8, folded.Shape.MaxSlotsPerDevice);
        Assert.Throws<ArgumentException>(() => FunctionalPlacement.For(plan, 6, 6)); // 6 does not divide EP 64
        Assert.Throws<ArgumentException>(() => FunctionalPlacement.For(plan, 8, 3)); // nodes of 3 do not fill 8 devices
    }

    [Fact]
    public void Json_keeps_the_documented_keys()
    {
        var report = FunctionalCheck.Run(Compile(), seed: 1);
        using var doc = JsonDocument.Parse(FunctionalReportJson.Write(Tiny, report));
        var root = doc.RootElement;
        Assert.Equal(["schema", "plan", "passed", "max_rel_error", "scaled_model", "notes", "layers"], root.EnumerateObject().Select(p => p.Name));
        Assert.Equal(Tiny, root.GetProperty("plan").GetString());
        Assert.Equal(4, root.GetProperty("layers").GetArrayLength());
        Assert.Equal(report.MaxRelError, root.GetProperty("max_rel_error").GetDouble());
        var moe = root.GetProperty("layers")[0].GetProperty("moe");
        Assert.Equal(
            ["rel_error", "three_sigma_rel", "within_bound", "routing_flips", "routing_mismatches", "dispatch_us", "experts_us", "combine_us", "utilization", "bytes_moved"],
            moe.EnumerateObject().Select(p => p.Name));
    }

    private sealed class IntArrays : IEqualityComparer<int[]>
    {
        public static readonly IntArrays Comparer = new();

        public bool Equals(int[]? x, int[]? y) => x is not null && y is not null && x.SequenceEqual(y);

        public int GetHashCode(int[] obj) => obj.Length;
    }
}
