using MoePlan.Core.Diagnostics;
using MoePlan.Core.Placement;
using Xunit;

namespace MoePlan.Core.Tests.Placement;

public class PlacementProblemTests
{
    private static readonly ExpertLoads Eight = PlacementTestInputs.Table([8, 7, 6, 5, 4, 3, 2, 1]);

    private static DiagnosticDescriptor[] Codes(PlacementShape shape)
    {
        var (problem, diagnostics) = PlacementProblem.Create(Eight, shape);
        Assert.Null(problem);
        return diagnostics.Select(d => d.Descriptor).ToArray();
    }

    [Fact]
    public void DerivedQuantities()
    {
        var problem = PlacementTestInputs.Problem(Eight, new PlacementShape(12, 4, 2) { ExpertGroups = 4 });
        Assert.Equal((3, 2, 4, true), (problem.SlotsPerDevice, problem.Nodes, problem.MaxReplicasPerExpert, problem.IsEven));
        Assert.Equal(1, problem.NodeOf(3));
    }

    [Fact]
    public void BadParameters_MP5125()
    {
        Assert.Equal([DiagnosticCodes.PlacementBadParameter], Codes(new PlacementShape(8, 0, 1)));
        Assert.Equal([DiagnosticCodes.PlacementBadParameter], Codes(new PlacementShape(12, 6, 4)));
        Assert.Equal([DiagnosticCodes.PlacementBadParameter], Codes(new PlacementShape(8, 4, 2) { ExpertGroups = 3 }));
        Assert.Equal([DiagnosticCodes.PlacementBadParameter], Codes(new PlacementShape(8, 4, 2) { MaxReplicasPerExpert = 5 }));
    }

    [Fact]
    public void TooFewSlots_MP5126() => Assert.Equal([DiagnosticCodes.PlacementTooFewSlots], Codes(new PlacementShape(4, 4, 2)));

    [Fact]
    public void UnevenSlots_MP5127() => Assert.Equal([DiagnosticCodes.PlacementUnevenSlots], Codes(new PlacementShape(10, 4, 2)));

    [Fact]
    public void CapsUnreachable_MP5128()
    {
        Assert.Equal([DiagnosticCodes.PlacementCapsUnreachable], Codes(new PlacementShape(12, 4, 2) { MaxReplicasPerExpert = 1 }));
        Assert.Equal([DiagnosticCodes.PlacementCapsUnreachable], Codes(new PlacementShape(10, 4, 2) { AllowUneven = true, MaxSlotsPerDevice = 2 }));
    }

    [Fact]
    public void UnevenAllowed_UsesTheSlotCap()
    {
        var problem = PlacementTestInputs.Problem(Eight, new PlacementShape(10, 4, 2) { AllowUneven = true, MaxSlotsPerDevice = 4 });
        Assert.Equal((4, false), (problem.SlotsPerDevice, problem.IsEven));
    }

    [Fact]
    public void Registry_FindsEveryAlgorithm_DefaultFirst_UnknownIsMP5129()
    {
        Assert.Equal(["moeplan", "eplb-hierarchical", "eplb-global", "omni"], PlacementAlgorithms.Names.ToArray());
        Assert.Equal("moeplan", PlacementAlgorithms.Default.Name);
        Assert.Same(PlacementAlgorithms.All[3], PlacementAlgorithms.Find(" OMNI "));
        var problem = PlacementTestInputs.Problem(Eight, new PlacementShape(8, 4, 2));
        var result = PlacementAlgorithms.Place("eplb", problem);
        var diagnostic = Assert.Single(result.Diagnostics);
        Assert.Equal(DiagnosticCodes.PlacementUnknownAlgorithm, diagnostic.Descriptor);
        Assert.Equal("choose one of: moeplan, eplb-hierarchical, eplb-global, omni", diagnostic.Hint);
        Assert.True(PlacementAlgorithms.Place("eplb-global", problem).Succeeded);
    }

    [Fact]
    public void PlacementCodes_AreInTheirRange_AndUnique()
    {
        var codes = DiagnosticCodes.All.Where(d => d.Code.StartsWith("MP51", StringComparison.Ordinal)).Select(d => d.Code).ToList();
        Assert.True(codes.Count >= 20);
        Assert.Equal(codes.Count, codes.Distinct().Count());
        Assert.All(codes, c => Assert.InRange(int.Parse(c[2..], System.Globalization.CultureInfo.InvariantCulture), 5101, 5149));
    }
}
