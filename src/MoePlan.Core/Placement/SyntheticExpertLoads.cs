using System.Collections.Immutable;
using MoePlan.Core.Diagnostics;

namespace MoePlan.Core.Placement;

/// <summary>Which serving phase synthetic loads imitate (the real recordings differ between the two).</summary>
public enum LoadProfile
{
    Decode,
    Prefill,
}

/// <summary>Parameters of <see cref="SyntheticExpertLoads.Generate"/>.</summary>
/// <param name="Layers">MoE layers to generate.</param>
/// <param name="Experts">Routed experts per layer.</param>
/// <param name="Seed">Same seed, same loads, on every run and platform.</param>
public sealed record SyntheticLoadOptions(int Layers, int Experts, ulong Seed)
{
    public LoadProfile Profile { get; init; } = LoadProfile.Decode;

    /// <summary>Experts each token is routed to.</summary>
    public int TopK { get; init; } = 8;

    /// <summary>Tokens per layer in the imagined recording window; a layer's loads sum to about TokensPerLayer x TopK.</summary>
    public long TokensPerLayer { get; init; } = 65536;

    /// <summary>Layer id of the first generated layer (DeepSeek-V3: 3, after three dense layers).</summary>
    public int FirstLayerId { get; init; }
}

/// <summary>
/// Seeded synthetic expert loads for planning without measurements. Each layer draws its own skew and its own hot
/// experts, so hot experts differ from layer to layer:
/// <list type="number">
/// <item>a spread w is drawn per layer (decode 0.36..0.54, prefill 0.40..0.58);</item>
/// <item>each expert's weight is a multiplicative cascade of six factors 1 + w(2u - 1), u uniform: the log of the weight is
/// close to normal, so the rank-load curve is the Zipf-like heavy head and thin tail of the recordings;</item>
/// <item>0..6 (decode) or 0..5 (prefill) hot spikes multiply a random expert by 1.5..4 (decode) or 1.5..3.5 (prefill),
/// like the few runaway experts of some recorded layers;</item>
/// <item>weights are scaled to TokensPerLayer x TopK and rounded to whole tokens.</item>
/// </list>
/// The constants were fitted to the SGLang DeepSeek-V3 recordings (busiest expert 2.6x..13.7x the layer mean, median about
/// 5x..7x; coefficient of variation 0.5..1.2). Only IEEE-exact arithmetic is used (no Exp, Log or Pow), with a SplitMix64
/// generator, so the output is bit-identical across platforms.
/// </summary>
public static class SyntheticExpertLoads
{
    private const int CascadeFactors = 6;

    private sealed record Shape(double SpreadLow, double SpreadHigh, int MaxHotSpikes, double SpikeLow, double SpikeHigh, ulong Salt);

    private static readonly Shape DecodeShape = new(0.36, 0.54, 6, 1.5, 4.0, 0xD1B54A32D192ED03UL);
    private static readonly Shape PrefillShape = new(0.40, 0.58, 5, 1.5, 3.5, 0x8CB92BA72F3D8DD7UL);

    public static (ExpertLoads? Loads, ImmutableArray<Diagnostic> Diagnostics) Generate(SyntheticLoadOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var problems = new List<string>();
        if (options.Layers < 1)
        {
            problems.Add($"layers must be 1 or more (got {options.Layers})");
        }

        if (options.Experts < 1)
        {
            problems.Add($"experts must be 1 or more (got {options.Experts})");
        }

        if (options.TopK < 1 || options.TopK > Math.Max(1, options.Experts))
        {
            problems.Add($"top-k must be from 1 to the expert count (got {options.TopK})");
        }

        if (options.TokensPerLayer < 1)
        {
            problems.Add($"tokens per layer must be 1 or more (got {options.TokensPerLayer})");
        }

        if (options.FirstLayerId < 0)
        {
            problems.Add($"the first layer id must be 0 or more (got {options.FirstLayerId})");
        }

        if (problems.Count > 0)
        {
            return (null, problems.Select(p => DiagnosticCodes.SyntheticBadParameter.Create(null, p)).ToImmutableArray());
        }

        var shape = options.Profile == LoadProfile.Prefill ? PrefillShape : DecodeShape;
        var random = new SplitMix64(options.Seed ^ shape.Salt);
        var total = (double)options.TokensPerLayer * options.TopK;
        var rows = new double[options.Layers][];
        for (var layer = 0; layer < options.Layers; layer++)
        {
            var spread = shape.SpreadLow + ((shape.SpreadHigh - shape.SpreadLow) * random.NextDouble());
            var weights = new double[options.Experts];
            for (var e = 0; e < weights.Length; e++)
            {
                var x = 1.0;
                for (var k = 0; k < CascadeFactors; k++)
                {
                    x *= 1 + (spread * ((2 * random.NextDouble()) - 1));
                }

                weights[e] = x;
            }

            var spikes = random.NextInt(shape.MaxHotSpikes + 1);
            for (var s = 0; s < spikes; s++)
            {
                var e = random.NextInt(weights.Length);
                weights[e] *= shape.SpikeLow + ((shape.SpikeHigh - shape.SpikeLow) * random.NextDouble());
            }

            var sum = 0.0;
            foreach (var w in weights)
            {
                sum += w;
            }

            rows[layer] = weights.Select(w => Math.Round(w / sum * total, MidpointRounding.ToEven)).ToArray();
        }

        var ids = Enumerable.Range(options.FirstLayerId, options.Layers).ToArray();
        return (ExpertLoads.Create(ids, rows), ImmutableArray<Diagnostic>.Empty);
    }
}

/// <summary>SplitMix64 (Steele, Lea, Flood 2014): tiny, fast, and the same sequence everywhere.</summary>
internal sealed class SplitMix64(ulong seed)
{
    private ulong _state = seed;

    public ulong Next()
    {
        var z = _state += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    /// <summary>Uniform in [0, 1) with 53 random bits.</summary>
    public double NextDouble() => (Next() >> 11) * (1.0 / 9007199254740992.0);

    /// <summary>Uniform in [0, n) (n at most 2^31; the bias of the multiply-shift method is below 2^-32).</summary>
    public int NextInt(int n) => (int)(((Next() >> 32) * (ulong)n) >> 32);
}
