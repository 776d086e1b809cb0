using System.Collections.Immutable;
using MoePlan.Core.Cost;

namespace MoePlan.Core.Calibration;

/// <summary>Which phase's step a figure is made of: its leave-one-out errors set the interval of figures of that regime.</summary>
public enum CostRegime
{
    Prefill,
    Decode,
}

/// <summary>
/// A figure of <c>moeplan cost --format json</c> a measurement can state, named by its JSON path
/// (<c>decode.tpot_ms</c>, ...). "device" is a rank (a GPU, or one die of a multi-die package).
/// </summary>
public sealed record CostMetric(string Name, CostRegime Regime, bool HigherIsFaster, Func<CostFigures, double> Of)
{
    public static readonly ImmutableArray<CostMetric> All =
    [
        new("prefill.step_ms", CostRegime.Prefill, false, r => r.Prefill.Step.StepMilliseconds),
        new("prefill.ttft_ms", CostRegime.Prefill, false, r => r.Prefill.TtftMilliseconds),
        new("prefill.input_tokens_per_s_per_device", CostRegime.Prefill, true, r => r.Prefill.InputTokensPerSecondPerRank),
        new("prefill.computed_tokens_per_s_per_device", CostRegime.Prefill, true, r => r.Prefill.ComputedTokensPerSecondPerRank),
        new("prefill.input_tokens_per_s_per_package", CostRegime.Prefill, true, r => r.Prefill.InputTokensPerSecondPerRank * r.DiesPerPackage),
        new("prefill.computed_tokens_per_s_per_package", CostRegime.Prefill, true, r => r.Prefill.ComputedTokensPerSecondPerRank * r.DiesPerPackage),
        new("decode.step_ms", CostRegime.Decode, false, r => r.Decode.Step.StepMilliseconds),
        new("decode.tpot_ms", CostRegime.Decode, false, r => r.Decode.TpotMilliseconds),
        new("decode.output_tokens_per_s_per_device", CostRegime.Decode, true, r => r.Decode.OutputTokensPerSecondPerRank),
        new("decode.output_tokens_per_s_per_package", CostRegime.Decode, true, r => r.Decode.OutputTokensPerSecondPerRank * r.DiesPerPackage),
    ];

    /// <summary>Short names users write for the headline latencies (the serving-benchmark vocabulary).</summary>
    private static readonly ImmutableDictionary<string, string> Aliases = new Dictionary<string, string>(StringComparer.Ordinal)
    {
        ["ttft_ms"] = "prefill.ttft_ms",
        ["tpot_ms"] = "decode.tpot_ms",
    }.ToImmutableDictionary(StringComparer.Ordinal);

    /// <summary>Every name accepted, canonical names first.</summary>
    public static IEnumerable<string> Names => All.Select(m => m.Name).Concat(Aliases.Keys.Order(StringComparer.Ordinal));

    public static CostMetric? Find(string name) =>
        All.FirstOrDefault(m => m.Name == (Aliases.TryGetValue(name, out var canonical) ? canonical : name));
}
