namespace MoePlan.Core.Cost;

/// <summary>
/// Achievable fractions of a hardware family's datasheet rates, one set per family (docs/cost-model.md
/// derives each). Measured figures are used where a source gives them; the rest are fitted once per
/// family against the published serving results of figures.md, never per test case.
/// </summary>
/// <param name="GemmEfficiency">Fraction of dense peak a large GEMM reaches.</param>
/// <param name="GemmHalfRows">Rows (tokens) at which a GEMM reaches half of <see cref="GemmEfficiency"/>: small decode GEMMs run below peak.</param>
/// <param name="AttentionEfficiency">Fraction of BF16 peak the decode (absorbed) form of the attention core reaches.</param>
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

    /// <summary>Fraction of BF16 peak the prefill form of the attention core reaches (causal attention over the prompt,
    /// a different kernel from the absorbed decode form); NaN takes <see cref="AttentionEfficiency"/>.</summary>
    public double PrefillAttentionEfficiency
    {
        get => double.IsNaN(_prefillAttentionEfficiency) ? AttentionEfficiency : _prefillAttentionEfficiency;
        init => _prefillAttentionEfficiency = value;
    }

    private readonly double _prefillAttentionEfficiency = double.NaN;

    /// <summary>GEMM efficiency at <paramref name="rows"/> rows: saturating, half of peak efficiency at <see cref="GemmHalfRows"/>.</summary>
    public double GemmAt(double rows) => rows <= 0 ? GemmEfficiency : GemmEfficiency * rows / (rows + GemmHalfRows);

    /// <summary>
    /// NVIDIA Hopper (H100, H800, H200). Measured: the decode attention core is FlashMLA's 660 TFLOPS (66.7% of H800
    /// BF16 peak) and its memory-bound 3,000 GB/s of 3,350 (0.896); scale-up is DeepEP's 155 GB/s of H800's 200 GB/s per
    /// direction (0.775). The other seven (with the prefill attention core, a different kernel from FlashMLA's) were
    /// fitted once, minimising the largest error over the published figures (DeepSeek's production prefill and decode on H800, every row of the LMSYS 96 x H100
    /// table): the GEMM figure is a lumped achieved fraction that also absorbs what the model does not itemise
    /// (quantisation, activation and scheduling work around the GEMMs), so it sits below GEMM microbenchmarks.
    /// </summary>
    public static readonly EfficiencyFactors Hopper = new(
        Family: "Hopper",
        GemmEfficiency: 0.353,
        GemmHalfRows: 4,
        AttentionEfficiency: 0.667,
        MemoryEfficiency: 0.896,
        ScaleUpEfficiency: 0.775,
        ScaleOutEfficiency: 0.844,
        AllToAll: AllToAllLatency.DeepEpH800,
        KernelGapMicroseconds: 6.16,
        OverlapEfficiency: 1.0,
        BatchRoutingVariation: 1.415)
    {
        PrefillAttentionEfficiency = 0.368,
        Provenance = "fitted on 8 published Hopper results (DeepSeek's H800 production prefill and decode, the 6 rows of LMSYS's 96 x H100 table); "
            + "decode attention and HBM efficiency from FlashMLA's measured 660 TFLOPS and 3,000 GB/s on H800; scale-up from DeepEP's measured 155 GB/s",
    };

    /// <summary>NVIDIA Blackwell (B200, GB200): no published serving result in figures.md to fit, so Hopper's factors.</summary>
    public static readonly EfficiencyFactors Blackwell = Hopper with
    {
        Family = "Blackwell",
        BorrowedFrom = "Hopper",
        Provenance = "uncalibrated: every factor borrowed from Hopper (no published Blackwell serving result to fit); FP4 and FP8 GEMMs take Hopper's achieved fraction of peak",
    };

    /// <summary>Huawei Ascend (910B, 910C). The decode attention core is AMLA's measured 86.8% of peak (arXiv 2509.25224;
    /// a decode kernel: the prefill form takes Hopper's fitted figure);
    /// the UB fabric figure in the catalog is already measured (196 GB/s), so its efficiency is 1. The rest take
    /// Hopper's fitted values: figures.md has no Ascend serving result broken down enough to fit them.</summary>
    public static readonly EfficiencyFactors Ascend = Hopper with
    {
        Family = "Ascend",
        AttentionEfficiency = 0.868,
        ScaleUpEfficiency = 1.0,
        AllToAll = AllToAllLatency.DeepEpAscend,
        BorrowedFrom = "Hopper",
        Provenance = "partly calibrated: decode attention from AMLA's measured 86.8% of peak, scale-up from the measured UB bandwidth, all-to-all floors from DeepEP-Ascend's microbenchmark; "
            + "GEMM, memory, prefill attention, overlap and routing factors borrowed from Hopper (no Ascend serving result broken down enough to fit them)",
    };

    public static EfficiencyFactors For(string family) => family switch
    {
        "Ascend" => Ascend,
        "Blackwell" => Blackwell,
        _ => Hopper,
    };
}
