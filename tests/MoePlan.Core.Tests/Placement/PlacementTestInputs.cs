using MoePlan.Core.Placement;
using Xunit;

namespace MoePlan.Core.Tests.Placement;

internal static class PlacementTestInputs
{
    public static ExpertLoads Synthetic(int layers, int experts, ulong seed, LoadProfile profile = LoadProfile.Decode)
    {
        var (loads, diagnostics) = SyntheticExpertLoads.Generate(new SyntheticLoadOptions(layers, experts, seed) { Profile = profile });
        Assert.Empty(diagnostics);
        return loads!;
    }

    public static PlacementProblem Problem(ExpertLoads loads, PlacementShape shape)
    {
        var (problem, diagnostics) = PlacementProblem.Create(loads, shape);
        Assert.Empty(diagnostics);
        return problem!;
    }

    public static ExpertPlacement Place(IPlacementAlgorithm algorithm, PlacementProblem problem)
    {
        var result = algorithm.Place(problem);
        Assert.True(result.Succeeded, string.Join("; ", result.Diagnostics));
        return result.Placement!;
    }

    public static ExpertLoads Table(params double[][] rows) => ExpertLoads.Create(rows);
}
