using MoePlan.Core.Plan;
using MoePlan.Core.Text;
using MoePlan.Core.Workloads;
using MoePlan.Serving.Workloads;

namespace MoePlan.Serving.Tests.Simulation;

public sealed class SyntheticWorkloadTests
{
    private static readonly SourceSpan None = new("t.moe", 0, 0, 1, 1);

    private static WorkloadPlan Workload(ArrivalProcess process, double rate, LengthDistribution input, double share) =>
        new(None, null, new ArrivalPlan(None, process, rate), input, new FixedLength(None, 10), new Sourced<double>(share, None), new Sourced<int>(1000, None), new Sourced<long>(3, None));

    [Fact]
    public void Constant_arrivals_are_evenly_spaced()
    {
        var rows = SyntheticWorkload.Generate(Workload(ArrivalProcess.Constant, 4, new FixedLength(None, 100), 0), 5).ToList();
        Assert.Equal([0.0, 250, 500, 750, 1000], rows.Select(r => r.ArrivalMilliseconds));
    }

    [Fact]
    public void Poisson_arrivals_have_the_rate_and_lengths_their_distribution()
    {
        var rows = SyntheticWorkload.Generate(Workload(ArrivalProcess.Poisson, 100, new LogNormalLength(None, 2000, 1000, null, null), 0), 20_000).ToList();
        double rate = (rows.Count - 1) / (rows[^1].ArrivalMilliseconds / 1e3);
        Assert.InRange(rate, 97, 103); // 20,000 exponential gaps: the rate within ~3 standard errors (0.7%)
        double mean = rows.Average(r => (double)r.InputTokens);
        Assert.InRange(mean, 1970, 2030);
    }

    [Fact]
    public void Prefix_share_makes_shared_leading_blocks()
    {
        var rows = SyntheticWorkload.Generate(Workload(ArrivalProcess.Constant, 1, new FixedLength(None, 2048), 0.5), 3).ToList();
        // 2,048 tokens = 4 blocks; half shared = the first 2 blocks, the same ids in every request.
        Assert.Equal(rows[0].Blocks[..2], rows[1].Blocks[..2]);
        Assert.Equal(rows[0].Blocks[..2], rows[2].Blocks[..2]);
        Assert.NotEqual(rows[0].Blocks[2], rows[1].Blocks[2]);
        Assert.Equal(4, rows[0].Blocks.Length);
    }
}
