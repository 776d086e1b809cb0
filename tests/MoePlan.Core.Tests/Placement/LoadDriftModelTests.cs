using System.Text.Json;
using MoePlan.Core.Placement;
using MoePlan.Tests.Support;
using Xunit;

namespace MoePlan.Core.Tests.Placement;

public class LoadDriftModelTests
{
    /// <summary>
    /// Recomputes the fit behind <see cref="LoadDriftModel.FittedSigma"/> from the five recordings, straight from their
    /// JSON: per pair, the population standard deviation over (MoE layer 3-60, expert with load in both) of
    /// log(share_b / share_a); then the root mean square over the ten pairs.
    /// </summary>
    [Fact]
    public void FittedSigma_IsTheRmsOfThePairwiseLogShareSpreadOfTheShippedRecordings()
    {
        var shares = LeaveOneWorkloadOutTable.Recordings.Select(path =>
        {
            using var doc = JsonDocument.Parse(File.ReadAllText(RepositoryPaths.PathOf(path.Split('/'))));
            return doc.RootElement.GetProperty("logical_count").EnumerateArray().Skip(3)
                .Select(row => row.EnumerateArray().Select(v => v.GetDouble()).ToArray())
                .Select(row => row.Select(v => v / row.Sum()).ToArray())
                .ToArray();
        }).ToArray();

        var squares = new List<double>();
        for (var a = 0; a < shares.Length; a++)
        {
            for (var b = a + 1; b < shares.Length; b++)
            {
                var logs = new List<double>();
                for (var layer = 0; layer < shares[a].Length; layer++)
                {
                    for (var e = 0; e < shares[a][layer].Length; e++)
                    {
                        if (shares[a][layer][e] > 0 && shares[b][layer][e] > 0)
                        {
                            logs.Add(Math.Log(shares[b][layer][e] / shares[a][layer][e]));
                        }
                    }
                }

                var mean = logs.Average();
                squares.Add(logs.Sum(x => (x - mean) * (x - mean)) / logs.Count);
            }
        }

        Assert.Equal(10, squares.Count);
        Assert.Equal(LoadDriftModel.FittedSigma, Math.Sqrt(squares.Average()), 2);
    }

    [Fact]
    public void Samples_AreDeterministic_NormalisedAndSpreadBySigma()
    {
        var loads = ExpertLoads.Create([Enumerable.Range(1, 256).Select(e => (double)e).ToArray()]);
        var model = new LoadDriftModel(0.34, 40, 5);
        var first = model.Sample(loads);
        var again = model.Sample(loads);
        Assert.Equal(40, first.Count);
        for (var k = 0; k < first.Count; k++)
        {
            Assert.Equal(first[k].Layer(0).ToArray(), again[k].Layer(0).ToArray());
            Assert.Equal(1.0, first[k].LayerTotal(0), 9);
        }

        // log(sample / base share) = sigma z + a per-sample constant (the renormalisation): its spread is sigma.
        var normalized = loads.Normalized().Layer(0).ToArray();
        var spreads = first.Select(s =>
        {
            var logs = s.Layer(0).ToArray().Select((v, e) => Math.Log(v / normalized[e])).ToList();
            var mean = logs.Average();
            return Math.Sqrt(logs.Sum(x => (x - mean) * (x - mean)) / logs.Count);
        }).ToList();
        Assert.InRange(spreads.Average(), 0.31, 0.37);
    }
}
