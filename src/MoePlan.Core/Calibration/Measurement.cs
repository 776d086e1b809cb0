using System.Collections.Immutable;
using MoePlan.Core.Editing;
using MoePlan.Core.Text;

namespace MoePlan.Core.Calibration;

/// <summary>A figure as its source published it, when that is not per device (e.g. per node of 8 GPUs).</summary>
/// <param name="Value">The published number.</param>
/// <param name="Devices">Devices the published number is for: the per-device value is <c>Value / Devices</c>.</param>
/// <param name="Unit">The published unit, in words ("input tok/s per node").</param>
public sealed record PublishedFigure(double Value, int Devices, string Unit);

/// <summary>
/// One measured (or published) figure of a deployment that a plan describes: the fitter compares the cost model's
/// prediction of <see cref="Metric"/> for <see cref="Plan"/> with <see cref="Value"/> (docs/calibration.md).
/// </summary>
/// <param name="Name">Names the case in residual and leave-one-out tables.</param>
/// <param name="Plan">The plan file, resolved against the measurement file.</param>
/// <param name="Value">The measured figure per device, in the metric's unit (NaN until prepared when read per deployment from a <see cref="Result"/>).</param>
/// <param name="Source">Where the figure comes from (a URL, a paper, "our cluster, 2026-11-30").</param>
/// <param name="PerfectBalance">Measured with perfectly balanced experts (SGLang's "simulated perfect EPLB").</param>
/// <param name="Overrides">Settings of the plan the measured deployment ran with instead (<c>--set</c> syntax).</param>
/// <param name="Span">Where the measurement is written.</param>
public sealed record Measurement(
    string Name,
    string Plan,
    CostMetric Metric,
    double Value,
    string Source,
    bool PerfectBalance,
    ImmutableArray<PlanOverride> Overrides,
    PublishedFigure? Published,
    SourceSpan Span)
{
    /// <summary>Where the plan path is written (a plan that does not compile is reported there).</summary>
    public SourceSpan PlanSpan { get; init; } = Span;

    /// <summary>
    /// The serving-benchmark result the figure is read from (the measurement's <c>result</c>), or null when <see cref="Value"/>
    /// is written. A per-device figure's <see cref="Value"/> is NaN until <see cref="MeasurementSet.Prepare"/> divides the
    /// tool's figure by the devices of the plan's pool and records it as <see cref="Published"/>.
    /// </summary>
    public BenchResult? Result { get; init; }
}
