namespace MoePlan.Core.Placement;

/// <summary>
/// How expert loads move between workloads, as a sampling model: each (layer, expert) share is multiplied by
/// exp(sigma z - sigma^2 / 2) with z standard normal (mean-preserving), then every layer is scaled back to total 1.
/// <para>
/// <see cref="FittedSigma"/> is fitted to the five SGLang DeepSeek-V3 recordings in the repository: for every pair of
/// recordings, the standard deviation over (MoE layer, expert) of log(share in one / share in the other); the ten pairs
/// give 0.03 (prefill_in1000out1000 vs prefill_in1024) to 0.49 (decode_in1000out1000 vs prefill_in2048), and their
/// root mean square is 0.34. <c>LoadDriftModelTests</c> recomputes the fit from the files.
/// </para>
/// </summary>
/// <param name="Sigma">Standard deviation of the log of the per-expert multiplier.</param>
/// <param name="Samples">Drifted load sets to draw per base set.</param>
/// <param name="Seed">The sampler's seed: same seed, same sets.</param>
public sealed record LoadDriftModel(double Sigma, int Samples, ulong Seed)
{
    /// <summary>Root mean square, over the ten pairs of shipped recordings, of the log-share spread (see the summary).</summary>
    public const double FittedSigma = 0.34;

    /// <summary>The fitted model with 8 samples per base set and seed 17.</summary>
    public static LoadDriftModel Fitted { get; } = new(FittedSigma, 8, 17);

    /// <summary>Draws <see cref="Samples"/> drifted copies of <paramref name="loads"/>, each layer normalised to total 1.</summary>
    public IReadOnlyList<ExpertLoads> Sample(ExpertLoads loads, ulong stream = 0)
    {
        ArgumentNullException.ThrowIfNull(loads);
        var random = new SplitMix64(Seed ^ (0x9E3779B97F4A7C15UL * (stream + 1)));
        var normalized = loads.Normalized();
        var sets = new List<ExpertLoads>();
        for (var k = 0; k < Samples; k++)
        {
            var rows = new List<IReadOnlyList<double>>();
            for (var i = 0; i < loads.LayerCount; i++)
            {
                var row = normalized.Layer(i).ToArray();
                for (var e = 0; e < row.Length; e++)
                {
                    row[e] *= Math.Exp((Sigma * Gaussian(random)) - (Sigma * Sigma / 2));
                }

                var total = row.Sum();
                rows.Add(total > 0 ? row.Select(v => v / total).ToArray() : row);
            }

            sets.Add(ExpertLoads.Create(loads.LayerIds, rows));
        }

        return sets;
    }

    /// <summary>Box-Muller from two uniforms in (0, 1].</summary>
    private static double Gaussian(SplitMix64 random)
    {
        var u1 = 1.0 - random.NextDouble();
        var u2 = random.NextDouble();
        return Math.Sqrt(-2 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2);
    }
}
