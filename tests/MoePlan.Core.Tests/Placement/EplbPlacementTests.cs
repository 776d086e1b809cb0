using MoePlan.Core.Diagnostics;
using MoePlan.Core.Placement;
using Xunit;

namespace MoePlan.Core.Tests.Placement;

public class EplbPlacementTests
{
    // deepseek-ai/EPLB README example: 2 layers x 12 experts, 16 physical slots, 4 groups, 2 nodes, 8 devices.
    private static readonly ExpertLoads ExampleWeights = PlacementTestInputs.Table(
        [90, 132, 40, 61, 104, 165, 39, 4, 73, 56, 183, 86],
        [20, 107, 104, 64, 19, 197, 187, 157, 172, 86, 16, 27]);

    private static readonly PlacementShape ExampleShape = new(16, 8, 4) { ExpertGroups = 4 };

    private static int[] Phy2Log(LayerPlacement layer) => layer.DeviceExperts.SelectMany(d => d).ToArray();

    [Fact]
    public void Hierarchical_ReproducesTheReadmeExample()
    {
        var problem = PlacementTestInputs.Problem(ExampleWeights, ExampleShape);
        var placement = PlacementTestInputs.Place(new EplbHierarchicalPlacement(), problem);

        // Printed by the EPLB README for rebalance_experts(weight, 16, 4, 2, 8).
        Assert.Equal([5, 6, 5, 7, 8, 4, 3, 4, 10, 9, 10, 2, 0, 1, 11, 1], Phy2Log(placement.Layers[0]));
        Assert.Equal([7, 10, 6, 8, 6, 11, 8, 9, 2, 4, 5, 1, 5, 0, 3, 1], Phy2Log(placement.Layers[1]));
        Assert.Empty(PlacementInvariants.Check(problem, placement));
    }

    [Fact]
    public void Global_OnTheExample_AvoidsTheReferenceDuplicate()
    {
        // Layer 0 by hand. Replication (highest load/copies): 10 (183), 5 (165), 1 (132), 4 (104) get a second copy.
        // Copies heaviest first: 10:91.5 x2, 0:90, 11:86, 5:82.5 x2, 8:73, 1:66 x2, 3:61, 9:56, 4:52 x2, 2:40, 6:39, 7:4.
        // The first eight fill devices 0..7 in order. The second copy of 1 (66) would go to the lightest device, 7 (66),
        // which already holds 1 - the reference puts it there (its layer 0 ends "1, 1"); we take device 6 (73) -> 139.
        // Then 3 -> d7 (127), 9 -> d4 (138.5), 4 -> d5 (134.5), 4 -> d3 (138), 2 -> d2 (130), 6 -> d0 (130.5), 7 -> d1 (95.5).
        // Max 139, mean 1033 / 8 = 129.125.
        var problem = PlacementTestInputs.Problem(ExampleWeights, ExampleShape);
        var placement = PlacementTestInputs.Place(new EplbGlobalPlacement(), problem);
        Assert.Equal([10, 6, 10, 7, 0, 2, 11, 4, 5, 9, 5, 4, 8, 1, 1, 3], Phy2Log(placement.Layers[0]));
        Assert.Empty(PlacementInvariants.Check(problem, placement));
        var metrics = PlacementMetrics.Compute(ExampleWeights, placement);
        Assert.Equal(139 / 129.125, metrics.Layers[0].Imbalance, 12);
    }

    [Fact]
    public void Hierarchical_FallsBackToGlobal_WhenGroupsDoNotDivideOverNodes_MP5130()
    {
        var problem = PlacementTestInputs.Problem(ExampleWeights, ExampleShape with { ExpertGroups = 3, DevicesPerNode = 2 });
        var hierarchical = new EplbHierarchicalPlacement().Place(problem);
        var global = PlacementTestInputs.Place(new EplbGlobalPlacement(), problem);
        Assert.Equal(DiagnosticCodes.PlacementHierarchicalFallback, Assert.Single(hierarchical.Diagnostics).Descriptor);
        Assert.Equal(
            global.Layers.Select(Phy2Log).SelectMany(x => x),
            hierarchical.Placement!.Layers.Select(Phy2Log).SelectMany(x => x));
    }

    [Fact]
    public void Eplb_NeedsEvenSlots_MP5131_AndIgnoresUneven_MP5132()
    {
        var uneven = PlacementTestInputs.Problem(ExampleWeights, new PlacementShape(15, 8, 4) { AllowUneven = true });
        var failed = new EplbGlobalPlacement().Place(uneven);
        Assert.False(failed.Succeeded);
        Assert.Equal(DiagnosticCodes.PlacementEvenOnly, Assert.Single(failed.Diagnostics).Descriptor);

        var allowed = PlacementTestInputs.Problem(ExampleWeights, ExampleShape with { AllowUneven = true });
        var result = new EplbHierarchicalPlacement().Place(allowed);
        Assert.True(result.Succeeded);
        Assert.Equal(DiagnosticCodes.PlacementIgnoresUneven, Assert.Single(result.Diagnostics).Descriptor);
    }

    [Fact]
    public void Hierarchical_CapsReplicasAtTheNodesDevices_MP5133()
    {
        // One node of 2 devices x 4 slots holds experts 0 and 1; expert 0 would want 3 more copies, but only 2 devices.
        var loads = PlacementTestInputs.Table([100, 1, 1, 1]);
        var problem = PlacementTestInputs.Problem(loads, new PlacementShape(8, 4, 2) { ExpertGroups = 2 });
        var result = new EplbHierarchicalPlacement().Place(problem);
        Assert.True(result.Succeeded);
        Assert.Equal(DiagnosticCodes.PlacementCapIgnored, Assert.Single(result.Diagnostics).Descriptor);
        Assert.Equal(2, result.Placement!.Layers[0].ReplicaCounts[0]);
        Assert.Empty(PlacementInvariants.Check(problem, result.Placement));
    }

    [Fact]
    public void Hierarchical_FallsBackToGlobal_WhenNodesCannotHoldReplicas_MP5134()
    {
        // One device per node: 3 experts and 4 slots per node would need two copies of an expert on one device.
        var problem = PlacementTestInputs.Problem(ExampleWeights, new PlacementShape(16, 4, 1) { ExpertGroups = 4 });
        var hierarchical = new EplbHierarchicalPlacement().Place(problem);
        Assert.Equal(DiagnosticCodes.PlacementHierarchicalNoRoom, Assert.Single(hierarchical.Diagnostics).Descriptor);
        Assert.Empty(PlacementInvariants.Check(problem, hierarchical.Placement!));
        var global = PlacementTestInputs.Place(new EplbGlobalPlacement(), problem);
        Assert.Equal(
            global.Layers.Select(Phy2Log).SelectMany(x => x),
            hierarchical.Placement!.Layers.Select(Phy2Log).SelectMany(x => x));
    }
}
