using System.Collections.Immutable;
using MoePlan.Core.Cost;

namespace MoePlan.Core.Calibration;

/// <summary>
/// A factor of <see cref="EfficiencyFactors"/> that calibration fits (the family's provenance calls it fitted), with the
/// bounds the fit keeps it in and why. The measured factors (attention core, scale-up bandwidth, all-to-all floors) have
/// sources of their own and stay fixed.
/// </summary>
/// <param name="Name">The profile's key (snake case, unit in the name).</param>
/// <param name="LogScale">Searched in log space: the factor spans more than a decade and matters by ratio.</param>
/// <param name="Why">Why the bounds are where they are (docs/calibration.md repeats these).</param>
public sealed record FreeFactor(string Name, double Lower, double Upper, bool LogScale, string Why,
    Func<EfficiencyFactors, double> Get, Func<EfficiencyFactors, double, EfficiencyFactors> With)
{
    public static readonly ImmutableArray<FreeFactor> All =
    [
        new("gemm_efficiency", 0.15, 0.85, false,
            "a lumped achieved fraction of dense peak: DeepGEMM's README reports up to 1550 FP8 TFLOPS on H800 (0.78 of 1979), so above 0.85 is not physical; below 0.15 no production engine runs",
            f => f.GemmEfficiency, (f, v) => f with { GemmEfficiency = v }),
        new("gemm_half_rows", 4, 512, true,
            "rows at which a GEMM reaches half its large-GEMM efficiency: between a sixteenth of a 64-row tile and eight tiles",
            f => f.GemmHalfRows, (f, v) => f with { GemmHalfRows = v }),
        new("memory_efficiency", 0.5, 0.95, false,
            "streaming kernels reach 0.8-0.92 of datasheet HBM bandwidth; above 0.95 is not physical, below 0.5 would be a broken kernel",
            f => f.MemoryEfficiency, (f, v) => f with { MemoryEfficiency = v }),
        new("scale_out_efficiency", 0.4, 1.0, false,
            "achieved all-to-all bandwidth over the NIC as a share of nominal: at most 1; DeepEP's normal kernels measure 43-58 GB/s on a 50 GB/s NIC (figures.md), congestion may halve it",
            f => f.ScaleOutEfficiency, (f, v) => f with { ScaleOutEfficiency = v }),
        new("kernel_gap_us", 0.5, 10, true,
            "per-kernel launch gap: CUDA/ACL graph replay costs about 1 us, eager launches 5-10 us",
            f => f.KernelGapMicroseconds, (f, v) => f with { KernelGapMicroseconds = v }),
        new("overlap_efficiency", 0, 1, false,
            "a share of the shorter of compute and communication: 0 (nothing hidden) to 1 (all of it)",
            f => f.OverlapEfficiency, (f, v) => f with { OverlapEfficiency = v }),
        new("batch_routing_variation", 1.0, 1.6, false,
            "one batch loads the busiest rank at least as much as the whole window does (1); LMSYS measured perfect balancing 1.18x faster in total, so 1.6 leaves room",
            f => f.BatchRoutingVariation, (f, v) => f with { BatchRoutingVariation = v }),
    ];

    public static FreeFactor? Find(string name) => All.FirstOrDefault(f => f.Name == name);

    /// <summary>Position of <paramref name="value"/> in the bounds, 0 to 1 (log-scaled where <see cref="LogScale"/>).</summary>
    public double Normalize(double value)
    {
        var v = Math.Clamp(value, Lower, Upper);
        return LogScale ? Math.Log(v / Lower) / Math.Log(Upper / Lower) : (v - Lower) / (Upper - Lower);
    }

    public double Denormalize(double unit)
    {
        var u = Math.Clamp(unit, 0, 1);
        return LogScale ? Lower * Math.Pow(Upper / Lower, u) : Lower + (u * (Upper - Lower));
    }
}
