using MoePlan.Core.Compilation;
using MoePlan.Core.Placement;
using MoePlan.Emulation.Functional;
using MoePlan.Tests.Support;

namespace MoePlan.Emulation.Tests.Functional;

/// <summary>The adapter from a plan's placement algorithm to the emulated devices' per-layer placement.</summary>
public class FunctionalPlacementTests
{
    /// <summary>8 experts with loads 8, 7, ..., 1 (expert 0 the hottest).</summary>
    private static readonly double[] Loads = [8, 7, 6, 5, 4, 3, 2, 1];

    [Fact]
    public void A_layer_is_what_the_algorithm_returns_for_its_loads()
    {
        // 8 experts + 4 replicas on 4 devices in 2 nodes: 3 slots each.
        var shape = new PlacementShape(12, 4, 2);
        var placed = new FunctionalPlacement("eplb-global", shape).Place(5, Loads);
        var (problem, _) = PlacementProblem.Create(ExpertLoads.Create([5], [Loads]), shape);
        var expected = PlacementAlgorithms.Place("eplb-global", problem!).Placement!.Layers.Single();
        Assert.Equal("eplb-global", placed.Algorithm);
        Assert.Null(placed.Fallback);
        Assert.Equal(5, placed.Placement.LayerId);
        Assert.Equal(expected.DeviceExperts.Select(d => d.ToArray()), placed.Placement.DeviceExperts.Select(d => d.ToArray()));
        Assert.All(placed.Placement.DeviceExperts, d => Assert.Equal(3, d.Length));
        Assert.Equal(12, placed.Placement.ReplicaCounts.Sum());
    }

    [Fact]
    public void An_algorithm_that_cannot_place_the_folded_shape_gives_way_to_the_default_and_says_why()
    {
        // eplb-global places even layouts only: 8 + 3 slots on 4 devices (uneven allowed) are not.
        var shape = new PlacementShape(11, 4, 4) { AllowUneven = true };
        var placed = new FunctionalPlacement("eplb-global", shape).Place(0, Loads);
        Assert.Equal(PlacementAlgorithms.DefaultName, placed.Algorithm);
        Assert.StartsWith("eplb-global cannot place the 11 slots folded onto 4 devices (", placed.Fallback, StringComparison.Ordinal);
        Assert.Equal(11, placed.Placement.ReplicaCounts.Sum());
        Assert.All(placed.Placement.ReplicaCounts, c => Assert.InRange(c, 1, 4));
    }

    [Fact]
    public void Slots_that_cannot_hold_the_experts_do_not_fold()
    {
        // 8 experts need 8 slots; 6 are too few.
        var e = Assert.Throws<ArgumentException>(() => new FunctionalPlacement("moeplan", new PlacementShape(6, 2, 2)).Place(0, Loads));
        Assert.Contains("do not fold onto 2 emulated devices", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_algorithms_warnings_come_back_with_the_placement()
    {
        // DeepSeek-V3 on H800 folded to 8 devices, one per node: eplb-hierarchical's 8 groups over 8 nodes of one device
        // cannot take 36 slots of 32 experts per node without doubling an expert on a device, so it says it goes global.
        const string path = "plans/deepseek-v3-h800.moe";
        var text = File.ReadAllText(RepositoryPaths.PathOf("plans", "deepseek-v3-h800.moe")).Replace("algorithm moeplan", "algorithm eplb-hierarchical", StringComparison.Ordinal);
        var plan = PlanCompiler.CompileText(path, text, MemorySourceResolver.FromRepository(path)).Plan!;
        var loads = Enumerable.Range(0, 256).Select(i => (double)(1 + (i % 7))).ToArray();
        var placed = FunctionalPlacement.For(plan, 8, 1).Place(0, loads);
        Assert.Equal("eplb-hierarchical", placed.Algorithm);
        Assert.Contains(placed.Warnings, w => w.Contains("uses the global policy", StringComparison.Ordinal));
    }
}
