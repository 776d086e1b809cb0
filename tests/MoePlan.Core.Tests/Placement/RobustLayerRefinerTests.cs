using MoePlan.Core.Placement;
using Xunit;

namespace MoePlan.Core.Tests.Placement;

public class RobustLayerRefinerTests
{
    /// <summary>
    /// Two workloads over 4 experts on 2 ranks of 2 slots: S1 = [.4, .4, .1, .1], S2 = [.1, .1, .4, .4]. Their mean is
    /// uniform, so the mean solve may well pair {0, 1} | {2, 3}: busiest rank .8 in both (sum 1.6, worst .8). Pairing
    /// {0, 2} | {1, 3} (or {0, 3} | {1, 2}) gives .5 and .5 in both: sum 1.0, worst .5, the best there is.
    /// </summary>
    [Theory]
    [InlineData(RobustObjective.Expected)]
    [InlineData(RobustObjective.WorstCase)]
    public void APairingBadForEveryWorkload_IsSwappedToOneGoodForAll(RobustObjective objective)
    {
        var layout = new LayerLayout(2);
        layout.Items[0].AddRange([0, 1]);
        layout.Items[1].AddRange([2, 3]);
        double[][] scenarios = [[.4, .4, .1, .1], [.1, .1, .4, .4]];
        var refiner = new RobustLayerRefiner(layout, scenarios, capacity: 2, objective);
        Assert.Equal(objective == RobustObjective.Expected ? 1.6 : .8, refiner.Value().Primary, 12);

        refiner.Refine();
        Assert.Equal(objective == RobustObjective.Expected ? 1.0 : .5, refiner.Value().Primary, 12);
        Assert.All(layout.Items, items => Assert.Equal(2, items.Count));
        Assert.DoesNotContain(layout.Items, items => items.Order().SequenceEqual([0, 1]) || items.Order().SequenceEqual([2, 3]));
    }

    [Fact]
    public void ARobustProblem_PlacesOnTheMeanOfTheNormalisedSets()
    {
        // Totals 10 and 1000: normalised they weigh the same, so the mean is (.1 + .3) / 2, (.9 + .7) / 2.
        var (problem, diagnostics) = PlacementProblem.CreateRobust(
            [ExpertLoads.Create([[1, 9]]), ExpertLoads.Create([[300, 700]])], new PlacementShape(2, 2, 1));
        Assert.Empty(diagnostics);
        Assert.Equal([0.2, 0.8], problem!.Loads.Layer(0).ToArray().Select(v => Math.Round(v, 12)));
        Assert.Equal(2, problem.Scenarios.Length);
    }
}
