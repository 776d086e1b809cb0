using System.Collections.Immutable;
using MoePlan.Core.Cost;

namespace MoePlan.Core.Calibration;

/// <summary>
/// The factor sets the cases cannot tell apart from the best fit: for each free factor and each direction, the furthest
/// value towards its bound at which the other factors, fitted again, still predict every case within a tolerance (the
/// cases' own leave-one-out error level). Near the cases they all predict alike; far from them (a batch size no case
/// has) they part, and that spread is what the data does not pin down: a kernel gap of 1 us or of 6 us fits big-batch
/// throughput alike and gives different TPOT at batch 1 (docs/cost-model.md, "Stated uncertainty").
/// </summary>
public static class IndistinguishableFactors
{
    // Bisection steps between the best value and the bound: the last step is 1/32 of that distance.
    private const int Steps = 5;

    public static ImmutableArray<EfficiencyFactors> Explore(IReadOnlyList<PreparedMeasurement> cases, FitResult best, double tolerance)
    {
        ArgumentNullException.ThrowIfNull(cases);
        ArgumentNullException.ThrowIfNull(best);
        var found = ImmutableArray.CreateBuilder<EfficiencyFactors>();
        var free = FreeFactor.All;
        for (var k = 0; k < free.Length; k++)
        {
            var factor = free[k];
            var start = factor.Normalize(factor.Get(best.Factors));
            foreach (var bound in new[] { 0.0, 1.0 })
            {
                if (Math.Abs(bound - start) < 1e-9)
                {
                    continue;
                }

                // Largest step t in [0, 1] from start towards bound whose refit stays within tolerance.
                EfficiencyFactors? furthest = null;
                var (inside, outside) = (0.0, 1.0);
                if (Within(1.0) is { } atBound)
                {
                    furthest = atBound;
                }
                else
                {
                    for (var step = 0; step < Steps; step++)
                    {
                        var t = (inside + outside) / 2;
                        if (Within(t) is { } fits)
                        {
                            (inside, furthest) = (t, fits);
                        }
                        else
                        {
                            outside = t;
                        }
                    }
                }

                if (furthest is not null)
                {
                    found.Add(furthest);
                }

                EfficiencyFactors? Within(double t)
                {
                    var value = factor.Denormalize(start + (t * (bound - start)));
                    var fit = FactorFit.Fit(cases, best.Factors, new FactorPin(k, value));
                    return fit.MaxAbsError <= tolerance ? fit.Factors : null;
                }
            }
        }

        return found.ToImmutable();
    }
}
