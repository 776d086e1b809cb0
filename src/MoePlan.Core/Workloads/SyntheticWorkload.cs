using MoePlan.Core.Plan;

namespace MoePlan.Core.Workloads;

/// <summary>
/// A seeded synthetic workload from the plan's <c>workload { }</c>: Poisson (exponential gaps) or constant
/// arrivals, fixed / uniform / log-normal lengths, and <c>prefix_share</c> as shared leading blocks: the
/// first floor(share x input / 512) blocks of every prompt are the same chain of blocks (one common prefix,
/// such as a system prompt), the rest are the request's own. Once the chain is cached, the share of input
/// tokens that hits is prefix_share, less the rounding to whole blocks.
/// </summary>
public static class SyntheticWorkload
{
    public static IEnumerable<ArrivingRequest> Generate(WorkloadPlan workload, int requests, long? seedOverride = null)
    {
        if (workload.Arrivals is not { } arrivals || workload.Input is not { } inputLengths || workload.Output is not { } outputLengths)
        {
            throw new ArgumentException("the workload has no synthetic arrivals and lengths");
        }

        var seed = seedOverride ?? workload.Seed.Value;
        var rng = new Random(unchecked((int)(seed ^ (seed >> 32))));
        var share = workload.PrefixShare.Value;
        long nextBlock = ArrivingRequest.GeneratedBlockIdBase;
        double time = 0;
        for (long id = 0; id < requests; id++)
        {
            if (id > 0)
            {
                time += arrivals.Process == ArrivalProcess.Poisson
                    ? -Math.Log(1 - rng.NextDouble()) / arrivals.RatePerSecond * 1e3
                    : 1e3 / arrivals.RatePerSecond;
            }

            int input = Sample(inputLengths, rng);
            int output = Sample(outputLengths, rng);
            var blocks = ArrivingRequest.UniqueBlocks(input, ref nextBlock);
            int shared = (int)Math.Floor(share * input / ArrivingRequest.BlockTokens);
            for (int b = 0; b < shared; b++)
            {
                // The common chain uses ids 0, 1, 2, ...: block b of every prompt that shares it.
                blocks[b] = b;
            }

            yield return new ArrivingRequest(id, time, input, output, blocks);
        }
    }

    /// <summary>One length, at least 1 token.</summary>
    public static int Sample(LengthDistribution distribution, Random rng)
    {
        double value = distribution switch
        {
            FixedLength f => f.Tokens,
            UniformLength u => u.Min + rng.Next(u.Max - u.Min + 1),
            LogNormalLength l => LogNormal(l, rng),
            _ => throw new ArgumentException($"unknown length distribution {distribution.GetType().Name}"),
        };
        return (int)Math.Max(1, Math.Min(int.MaxValue, Math.Round(value)));
    }

    private static double LogNormal(LogNormalLength l, Random rng)
    {
        // The underlying normal of a log-normal with mean m and sd s: sigma^2 = ln(1 + s^2/m^2), mu = ln m - sigma^2/2.
        var sigma2 = Math.Log(1 + (l.StandardDeviationTokens * l.StandardDeviationTokens / (l.MeanTokens * l.MeanTokens)));
        var mu = Math.Log(l.MeanTokens) - (sigma2 / 2);
        var z = Math.Sqrt(-2 * Math.Log(1 - rng.NextDouble())) * Math.Cos(2 * Math.PI * rng.NextDouble());
        var x = Math.Exp(mu + (Math.Sqrt(sigma2) * z));
        if (l.Min is { } min)
        {
            x = Math.Max(min, x);
        }

        if (l.Max is { } max)
        {
            x = Math.Min(max, x);
        }

        return x;
    }
}
