namespace MoePlan.Emulation.Emulator;

/// <summary>
/// An Ascend 910-class NPU die as the emulator sees it: AI cores, each with one Cube (matrix) unit
/// and <see cref="VectorUnitsPerCore"/> Vector units, the on-chip buffers of each core, and a global
/// memory (HBM) whose bandwidth is shared fairly by the cores.
/// Markers: "[amla.md]" / "[figures.md]" = published figure copied from the AMLA / figures notes of the project's reference material;
/// "[2nd]" = second-hand figure not in those files; "derived" = arithmetic on published figures;
/// "assumed" = modelling assumption with its rationale (no published figure available to us).
/// </summary>
public sealed record DeviceSpec
{
    /// <summary>Name for reports.</summary>
    public required string Name { get; init; }

    /// <summary>AI cores per die. 24 [2nd]: Atlas A2 / 910B-class die, 24 AIC + 48 AIV (CANN docs);
    /// not in figures.md.</summary>
    public required int AiCores { get; init; }

    /// <summary>Vector units (AIV) per AI core. 2 [2nd]: 48 AIV / 24 AIC on Atlas A2.</summary>
    public required int VectorUnitsPerCore { get; init; }

    /// <summary>Cube fractal edge: the Cube multiplies a 16x16 by a 16x16 BF16/FP16 block per cycle
    /// (4096 MACs = 8192 FLOPs / cycle) [2nd]: DaVinci architecture, Huawei Hot Chips 31 (2019).</summary>
    public required int CubeFractal { get; init; }

    /// <summary>Core clock in Hz. Derived: 376 TFLOPS BF16 per 910C die [figures.md] /
    /// (24 cores x 8192 FLOPs/cycle) = 1.9124 GHz.</summary>
    public required double ClockHz { get; init; }

    /// <summary>L1 per AI core: 512 KB [amla.md, Atlas A2 constants].</summary>
    public required long L1Bytes { get; init; }
    /// <summary>L0A per AI core: 64 KB [amla.md].</summary>
    public required long L0ABytes { get; init; }
    /// <summary>L0B per AI core: 64 KB [amla.md].</summary>
    public required long L0BBytes { get; init; }
    /// <summary>L0C per AI core: 128 KB [amla.md].</summary>
    public required long L0CBytes { get; init; }
    /// <summary>Unified buffer per Vector unit: 192 KB [amla.md].</summary>
    public required long UbBytes { get; init; }

    /// <summary>HBM bandwidth of the die: 1.6 TB/s (3.2 TB/s per 910C package of 2 dies) [figures.md].</summary>
    public required double HbmBytesPerSecond { get; init; }

    /// <summary>Bytes per cycle through one core's GM port for data that comes from HBM (an L2 miss).
    /// Derived by default: HBM bandwidth shared fairly by all cores streaming at once, 1.6e12 / 24 /
    /// 1.9124e9 = 34.86 B/cycle (pessimistic when few cores are active).</summary>
    public required double GmBytesPerCycle { get; init; }

    /// <summary>L1 -> L0A/L0B bytes per cycle (MTE1). Assumed 1024: the Cube consumes one 16x16
    /// BF16 fractal of A and one of B per cycle (2 x 512 B) when there is no reuse; the design must
    /// be able to feed that.</summary>
    public required double L1ToL0BytesPerCycle { get; init; }

    /// <summary>Vector unit bytes per cycle: 256 (2048-bit SIMD) [2nd]: DaVinci, Hot Chips 31.
    /// Every elementwise vector instruction (including exp) is charged one pass at this rate.</summary>
    public required double VectorBytesPerCycle { get; init; }

    /// <summary>Latency from issue to data ready for a GM transfer. Assumed 1000 cycles (~0.5 us), the
    /// order of published GPU HBM load latencies (400-1000 cycles, microbenchmark papers); not an
    /// Ascend figure. Latency delays the consumer but does not occupy the port (pipelined).</summary>
    public required double GmLatencyCycles { get; init; }

    /// <summary>Bytes per cycle through one core's port when the data is in the on-chip L2 (a hit), and
    /// for every write (write-allocate, write-back). Null = no L2: every GM byte goes at
    /// <see cref="GmBytesPerCycle"/>. Default assumed: 3 x the core's HBM share = 104.6 B/cycle (L2 to
    /// HBM bandwidth ratios of 2.5-3.5 are what GPU microbenchmarks report for A100/H100; no Ascend
    /// figure is available to us).</summary>
    public double? L2BytesPerCycle { get; init; }

    /// <summary>Latency of an L2 hit or write. Assumed 250 cycles (GPU L2 hit latencies measured at
    /// 200-270 cycles; no Ascend figure available to us).</summary>
    public double L2LatencyCycles { get; init; }

    /// <summary>L2 capacity in bytes; null = not bounded. Ascend 910-class dies have an on-chip L2 but
    /// none of our sources gives its size, so the default leaves the capacity out: the emulator then
    /// reports the peak bytes resident (<see cref="GlobalMemory.L2PeakResidentBytes"/>) for the reader
    /// to compare with a published size. When set, residency is evicted least-recently-used by tensor.</summary>
    public long? L2Bytes { get; init; }

    /// <summary>Cube pipeline latency. Assumed 32 cycles: fill plus drain of a 16-deep array.</summary>
    public required double CubeLatencyCycles { get; init; }

    /// <summary>Vector instruction latency. Assumed 16 cycles (pipeline depth order).</summary>
    public required double VectorLatencyCycles { get; init; }

    /// <summary>L1 -> L0 copy latency. Assumed 16 cycles.</summary>
    public required double L1ToL0LatencyCycles { get; init; }

    /// <summary>FLOPs per Cube cycle: 2 x fractal^3.</summary>
    public double CubeFlopsPerCycle => 2.0 * CubeFractal * CubeFractal * CubeFractal;

    /// <summary>Peak BF16 FLOP/s of the die implied by the spec.</summary>
    public double PeakFlopsPerSecond => CubeFlopsPerCycle * ClockHz * AiCores;

    /// <summary>The default Ascend 910-class die (one die of a 910C package).</summary>
    public static DeviceSpec Ascend910Die { get; } = CreateAscend910Die();

    private static DeviceSpec CreateAscend910Die()
    {
        const int cores = 24;
        const int fractal = 16;
        const double dieBf16Flops = 376e12;      // [figures.md] 752 TFLOPS per 910C package = 2 x 376
        const double hbm = 1.6e12;               // [figures.md] 3.2 TB/s per package = 2 x 1.6
        double clock = dieBf16Flops / (cores * 2.0 * fractal * fractal * fractal);
        return new DeviceSpec
        {
            Name = "Ascend 910-class die",
            AiCores = cores,
            VectorUnitsPerCore = 2,
            CubeFractal = fractal,
            ClockHz = clock,
            L1Bytes = 512 * 1024,
            L0ABytes = 64 * 1024,
            L0BBytes = 64 * 1024,
            L0CBytes = 128 * 1024,
            UbBytes = 192 * 1024,
            HbmBytesPerSecond = hbm,
            GmBytesPerCycle = hbm / cores / clock,
            L1ToL0BytesPerCycle = 2 * fractal * fractal * 2,
            VectorBytesPerCycle = 256,
            GmLatencyCycles = 1000,
            L2BytesPerCycle = 3 * hbm / cores / clock,
            L2LatencyCycles = 250,
            L2Bytes = null,
            CubeLatencyCycles = 32,
            VectorLatencyCycles = 16,
            L1ToL0LatencyCycles = 16,
        };
    }
}
