using MoePlan.Core.Diagnostics;
using MoePlan.Core.Placement;
using MoePlan.Tests.Support;
using Xunit;

namespace MoePlan.Core.Tests.Placement;

public class SyntheticExpertLoadsTests
{
    [Fact]
    public void SplitMix64_MatchesPublishedSequence()
    {
        // Rosetta Code, "Pseudo-random numbers/Splitmix64": seed 1234567.
        var random = new SplitMix64(1234567);
        Assert.Equal(
            [6457827717110365317UL, 3203168211198807973UL, 9817491932198370423UL, 4593380528125082431UL, 16408922859458223821UL],
            Enumerable.Range(0, 5).Select(_ => random.Next()));
        Assert.Equal(0xE220A8397B1DCDAFUL, new SplitMix64(0).Next());
    }

    [Fact]
    public void SameSeed_SameLoads_OtherSeedOrProfile_OtherLoads()
    {
        var a = PlacementTestInputs.Synthetic(4, 64, 7);
        var b = PlacementTestInputs.Synthetic(4, 64, 7);
        var c = PlacementTestInputs.Synthetic(4, 64, 8);
        var d = PlacementTestInputs.Synthetic(4, 64, 7, LoadProfile.Prefill);
        for (var layer = 0; layer < 4; layer++)
        {
            Assert.Equal(a.Layer(layer).ToArray(), b.Layer(layer).ToArray());
            Assert.NotEqual(a.Layer(layer).ToArray(), c.Layer(layer).ToArray());
            Assert.NotEqual(a.Layer(layer).ToArray(), d.Layer(layer).ToArray());
        }
    }

    [Fact]
    public void Layers_SumToTokensTimesTopK_InWholeTokens()
    {
        var (loads, _) = SyntheticExpertLoads.Generate(new SyntheticLoadOptions(3, 256, 1) { TokensPerLayer = 1000, TopK = 8, FirstLayerId = 3 });
        Assert.Equal([3, 4, 5], loads!.LayerIds.ToArray());
        for (var layer = 0; layer < 3; layer++)
        {
            Assert.InRange(loads.LayerTotal(layer), 8000 - 128, 8000 + 128);
            Assert.All(loads.Layer(layer).ToArray(), v => Assert.Equal(Math.Round(v), v));
        }
    }

    [Theory]
    [InlineData(LoadProfile.Decode, "decode")]
    [InlineData(LoadProfile.Prefill, "prefill")]
    public void Skew_MatchesTheRealRecordings(LoadProfile profile, string role)
    {
        var real = TestData.SglangExpertLoadFiles
            .Where(f => Path.GetFileName(f).Contains(role, StringComparison.Ordinal))
            .SelectMany(f =>
            {
                var loads = ExpertLoadReader.Read(File.ReadAllText(f), f).Loads!.WithoutEmptyLayers()!;
                return Enumerable.Range(0, loads.LayerCount).Select(loads.PeakToMean);
            })
            .Order()
            .ToList();
        var synthetic = Enumerable.Range(0, 10)
            .SelectMany(seed =>
            {
                var loads = PlacementTestInputs.Synthetic(58, 256, (ulong)seed, profile);
                return Enumerable.Range(0, loads.LayerCount).Select(loads.PeakToMean);
            })
            .Order()
            .ToList();

        var (low, high) = (real[0], real[^1]);
        var inside = synthetic.Count(r => r >= low && r <= high) / (double)synthetic.Count;
        Assert.True(inside >= 0.9, $"{inside:P1} of synthetic layers within the real peak/mean range {low:F2}..{high:F2}");
        var median = synthetic[synthetic.Count / 2];
        var (p10, p90) = (real[real.Count / 10], real[real.Count * 9 / 10]);
        Assert.InRange(median, p10, p90);
    }

    [Fact]
    public void HotExperts_DifferFromLayerToLayer()
    {
        var loads = PlacementTestInputs.Synthetic(58, 256, 3);
        var busiest = Enumerable.Range(0, loads.LayerCount)
            .Select(layer => loads.Layer(layer).IndexOf(loads.Layer(layer).ToArray().Max()))
            .Distinct()
            .Count();
        Assert.True(busiest >= 40, $"{busiest} distinct busiest experts over 58 layers");
    }

    [Fact]
    public void BadParameters_MP5120()
    {
        var (loads, diagnostics) = SyntheticExpertLoads.Generate(new SyntheticLoadOptions(0, 8, 1) { TopK = 9, TokensPerLayer = 0 });
        Assert.Null(loads);
        Assert.Equal(3, diagnostics.Length);
        Assert.All(diagnostics, d => Assert.Equal(DiagnosticCodes.SyntheticBadParameter, d.Descriptor));
    }
}
