using MoePlan.Core.Placement;
using Xunit;

namespace MoePlan.Core.Tests.Placement;

public class PlacementPropertyTests
{
    public static TheoryData<string> Algorithms => new(PlacementAlgorithms.Names);

    /// <summary>A random valid shape and random loads (skewed, flat, all zero, or with zero experts).</summary>
    private static (ExpertLoads Loads, PlacementShape Shape) RandomInput(int seed, bool uneven)
    {
        var random = new Random(seed);
        var experts = new[] { 8, 12, 16, 32, 64 }[random.Next(5)];
        var devices = new[] { 2, 4, 8, 16 }[random.Next(4)];
        var devicesPerNode = Pick(random, new[] { 1, 2, 4, 8 }.Where(n => devices % n == 0).ToArray());
        var groups = Pick(random, new[] { 1, 2, 4, 8 }.Where(g => experts % g == 0).ToArray());
        var minimum = (experts + devices - 1) / devices;
        var slotsPerDevice = minimum + random.Next(3);
        var physical = uneven ? Math.Max(experts, (slotsPerDevice * devices) - random.Next(devices)) : slotsPerDevice * devices;
        var layers = 1 + random.Next(3);
        var kind = seed % 5;
        var rows = Enumerable.Range(0, layers).Select(_ => Enumerable.Range(0, experts).Select(e => kind switch
        {
            0 => 0.0,
            1 => 5.0,
            2 => random.Next(4) == 0 ? 0.0 : random.Next(1000),
            _ => Math.Floor(10000 * Math.Pow(random.NextDouble(), 4)),
        }).ToArray()).ToArray();
        var shape = new PlacementShape(physical, devices, devicesPerNode)
        {
            ExpertGroups = groups,
            AllowUneven = uneven,
            MaxSlotsPerDevice = uneven ? slotsPerDevice : null,
            MaxReplicasPerExpert = seed % 7 == 0 ? Math.Min(devices, Math.Max(2, (physical + experts - 1) / experts)) : null,
        };
        return (PlacementTestInputs.Table(rows), shape);
    }

    private static int Pick(Random random, int[] options) => options[random.Next(options.Length)];

    [Theory]
    [MemberData(nameof(Algorithms))]
    public void EvenPlacements_KeepEveryRule(string name)
    {
        var algorithm = PlacementAlgorithms.Find(name)!;
        for (var seed = 0; seed < 150; seed++)
        {
            var (loads, shape) = RandomInput(seed, uneven: false);
            var problem = PlacementTestInputs.Problem(loads, shape);
            var placement = PlacementTestInputs.Place(algorithm, problem);
            Assert.Equal(name, placement.Algorithm);
            var violations = PlacementInvariants.Check(problem, placement);
            Assert.True(violations.IsEmpty, $"seed {seed}, {shape}: {string.Join("; ", violations)}");
        }
    }

    [Theory]
    [InlineData(MoePlanPlacement.AlgorithmName)]
    [InlineData(OmniPlacement.AlgorithmName)]
    public void UnevenPlacements_KeepEveryRule(string name)
    {
        var algorithm = PlacementAlgorithms.Find(name)!;
        for (var seed = 0; seed < 150; seed++)
        {
            var (loads, shape) = RandomInput(seed, uneven: true);
            var problem = PlacementTestInputs.Problem(loads, shape);
            var placement = PlacementTestInputs.Place(algorithm, problem);
            var violations = PlacementInvariants.Check(problem, placement);
            Assert.True(violations.IsEmpty, $"seed {seed}, {shape}: {string.Join("; ", violations)}");
        }
    }

    [Theory]
    [MemberData(nameof(Algorithms))]
    public void Placement_IsDeterministic(string name)
    {
        var loads = PlacementTestInputs.Synthetic(4, 64, 11);
        var problem = PlacementTestInputs.Problem(loads, new PlacementShape(80, 16, 4) { ExpertGroups = 8 });
        var first = PlacementTestInputs.Place(PlacementAlgorithms.Find(name)!, problem);
        var second = PlacementTestInputs.Place(PlacementAlgorithms.Find(name)!, problem);
        Assert.Equal(
            first.Layers.SelectMany(l => l.DeviceExperts.SelectMany(d => d.Append(-1))),
            second.Layers.SelectMany(l => l.DeviceExperts.SelectMany(d => d.Append(-1))));
    }

    [Fact]
    public void Invariants_ReportBrokenPlacements()
    {
        var problem = PlacementTestInputs.Problem(PlacementTestInputs.Table([1, 2, 3]), new PlacementShape(4, 2, 1));
        var broken = new ExpertPlacement("hand", 3, 4, 2, 1, [new LayerPlacement(0, 3, [[0, 0], [1, 1, 1]])]);
        var violations = PlacementInvariants.Check(problem, broken);
        Assert.Contains("layer 0: 5 copies instead of 4", violations);
        Assert.Contains("layer 0, device 1: 3 slots (limit 2 exactly)", violations);
        Assert.Contains("layer 0, device 0: 2 copies of expert 0", violations);
        Assert.Contains("layer 0: expert 2 is not placed", violations);
    }
}
