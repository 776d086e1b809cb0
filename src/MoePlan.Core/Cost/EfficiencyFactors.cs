namespace MoePlan.Core.Cost;

/// <summary>
/// Achievable fractions of a hardware family's datasheet rates, one set per family (docs/cost-model.md
/// derives each). Measured figures are used where a source gives them; the rest are fitted once per
/// family against the published serving results of figures.md, never per test case.
/// </summary>
/// <param name="GemmEfficiency">Fraction of dense peak a large GEMM reaches.</param>
/// <param name="GemmHalfRows">Rows (tokens) at which a GEMM reaches half of <see cref="GemmEfficiency"/>: small decode GEMMs run below peak.</param>
/// <param name="AttentionEfficiency">Fraction of BF16 peak the attention core reaches.</param>
/// <param name="MemoryEfficiency">Fraction of HBM bandwidth a streaming kernel reaches.</param>
/// <param name="ScaleUpEfficiency">Achieved all-to-all bandwidth over the scale-up fabric, as a fraction of nominal per direction.</param>
/// <param name="ScaleOutEfficiency">Achieved all-to-all bandwidth over the scale-out NIC, as a fraction of nominal per direction.</param>
/// <param name="AllToAll">Fixed cost of one dispatch or combine by EP and fabric, from the family's all-to-all microbenchmark.</param>
/// <param name="KernelGapMicroseconds">Launch and synchronisation gap every kernel pays whatever its size (CUDA graphs / ACL graphs replay a step's kernels back to back).</param>
/// <param name="OverlapEfficiency">Share of the shorter of compute and communication that two-batch overlap hides.</param>
/// <param name="BatchRoutingVariation">How much more one batch loads the busiest rank than the placement's imbalance over
/// the whole recording window (tokens of one batch come from few prompts and route alike). LMSYS measured the effect as
/// the 1.18x prefill speed-up of "simulated perfect EPLB" over EPLB at 4K prompts.</param>
public sealed record EfficiencyFactors(
    string Family,
    double GemmEfficiency,
    double GemmHalfRows,
    double AttentionEfficiency,
    double MemoryEfficiency,
    double ScaleUpEfficiency,
    double ScaleOutEfficiency,
    AllToAllLatency AllToAll,
    double KernelGapMicroseconds,
    double OverlapEfficiency,
    double BatchRoutingVariation)
{
    /// <summary>Where the factors come from, in one sentence a user can check against docs/cost-model.md.</summary>
    public string Provenance { get; init; } = "";

    /// <summary>The family whose fitted factors these are when this family has no published result of its own to fit
    /// (its cost figures are then uncalibrated); null when fitted or measured on this family.</summary>
    public string? BorrowedFrom { get; init; }

    /// <summary>GEMM efficiency at <paramref name="rows"/> rows: saturating, half of peak efficiency at <see cref="GemmHalfRows"/>.</summary>
    public double GemmAt(double rows) => rows <= 0 ? GemmEfficiency : GemmEfficiency * rows / (rows + GemmHalfRows);

    /// <summary>
    /// NVIDIA Hopper (H100, H800, H200). The attention core is FlashMLA's measured 66.7% of H800 BF16 peak;
    /// scale-up is DeepEP's measured 155 GB/s of H800's 200 GB/s per direction (0.775). The other eight were
    /// fitted once, by a grid search minimising the largest error over all eight published figures (DeepSeek's
    /// production prefill and decode on H800, every row of the LMSYS 96 x H100 table): the GEMM figure is a
    /// lumped achieved fraction that also absorbs what the model does not itemise (quantisation, activation
    /// and scheduling work around the GEMMs), so it sits below GEMM microbenchmarks.
    /// </summary>
    public static readonly EfficiencyFactors Hopper = new(
        Family: "Hopper",
        GemmEfficiency: 0.32,
        GemmHalfRows: 48,
        AttentionEfficiency: 0.667,
        MemoryEfficiency: 0.90,
        ScaleUpEfficiency: 0.775,
        ScaleOutEfficiency: 0.80,
        AllToAll: AllToAllLatency.DeepEpH800,
        KernelGapMicroseconds: 1.0,
        OverlapEfficiency: 0.80,
        BatchRoutingVariation: 1.25)
    {
        Provenance = "fitted on 8 published Hopper results (DeepSeek's H800 production prefill and decode, the 6 rows of LMSYS's 96 x H100 table); "
            + "attention from FlashMLA's measured 66.7% of H800 peak; scale-up from DeepEP's measured 155 GB/s",
    };

    /// <summary>NVIDIA Blackwell (B200, GB200): no published serving result in figures.md to fit, so Hopper's factors.</summary>
    public static readonly EfficiencyFactors Blackwell = Hopper with
    {
        Family = "Blackwell",
        BorrowedFrom = "Hopper",
        Provenance = "uncalibrated: every factor borrowed from Hopper (no published Blackwell serving result to fit); FP4 and FP8 GEMMs take Hopper's achieved fraction of peak",
    };

    /// <summary>Huawei Ascend (910B, 910C). The attention core is AMLA's measured 86.8% of peak (arXiv 2509.25224);
    /// the UB fabric figure in the catalog is already measured (196 GB/s), so its efficiency is 1. The rest take
    /// Hopper's fitted values: figures.md has no Ascend serving result broken down enough to fit them.</summary>
    public static readonly EfficiencyFactors Ascend = Hopper with
    {
        Family = "Ascend",
        AttentionEfficiency = 0.868,
        ScaleUpEfficiency = 1.0,
        AllToAll = AllToAllLatency.DeepEpAscend,
        BorrowedFrom = "Hopper",
        Provenance = "partly calibrated: attention from AMLA's measured 86.8% of peak, scale-up from the measured UB bandwidth, all-to-all floors from DeepEP-Ascend's microbenchmark; "
            + "GEMM, memory, overlap and routing factors borrowed from Hopper (no Ascend serving result broken down enough to fit them)",
    };

    public static EfficiencyFactors For(string family) => family switch
    {
        "Ascend" => Ascend,
        "Blackwell" => Blackwell,
        _ => Hopper,
    };
}
