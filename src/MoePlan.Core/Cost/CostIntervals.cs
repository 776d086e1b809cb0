using System.Collections.Immutable;

namespace MoePlan.Core.Cost;

/// <summary>The range a figure is stated with: low and high in the figure's unit.</summary>
public readonly record struct FigureInterval(double Low, double High);

/// <summary>
/// What a plan's figures are stated with (docs/cost-model.md, "Stated uncertainty"): an interval per figure of
/// <c>CostMetric.All</c> (by JSON path, <c>decode.tpot_ms</c>), or, when no calibration speaks for the plan's factors, none and why.
/// </summary>
/// <param name="Basis">Where the interval comes from, in words ("leave-one-out errors of the 9 published Hopper cases ...").</param>
/// <param name="Intervals">By metric name; empty when <paramref name="Unavailable"/> says why.</param>
public sealed record CostIntervals(string Basis, ImmutableDictionary<string, FigureInterval> Intervals, string? Unavailable)
{
    /// <summary>The share of left-out calibration cases an interval is meant to hold.</summary>
    public const double Coverage = 0.8;

    public FigureInterval? Of(string metric) => Intervals.TryGetValue(metric, out var i) ? i : null;

    // The headline figures by name, for templates (report.md).
    public FigureInterval? Ttft => Of("prefill.ttft_ms");

    public FigureInterval? PrefillInputPerDevice => Of("prefill.input_tokens_per_s_per_device");

    public FigureInterval? Tpot => Of("decode.tpot_ms");

    public FigureInterval? DecodeOutputPerDevice => Of("decode.output_tokens_per_s_per_device");
}
