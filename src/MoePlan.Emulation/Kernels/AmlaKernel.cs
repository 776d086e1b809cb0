using MoePlan.Emulation.Emulator;

namespace MoePlan.Emulation.Kernels;

/// <summary>What one emulated run of the decode-attention kernel measured.</summary>
/// <param name="RelErrorVsFp64">||out - ref||_2 / ||ref||_2 over the whole output, ref = FP64 on the same BF16 inputs.</param>
/// <param name="CubeUtilization">Cube busy cycles / (all AI cores of the die x makespan), 0-1.</param>
/// <param name="FlopUtilization">Useful Cube FLOPs / (all AI cores x makespan x FLOPs per cycle), 0-1
/// (differs from CubeUtilization only by fractal padding).</param>
/// <param name="GmBandwidthUtilization">Busy cycles of the cores' shared GM bandwidth / (all AI cores x makespan).</param>
/// <param name="GmBytes">Bytes between cores and GM (read + written; atomics count their source once).</param>
/// <param name="EmulatedMicroseconds">Makespan at the spec's clock.</param>
public sealed record AmlaKernelReport(
    AttentionVariant Variant,
    AmlaShape Shape,
    MlaTiling Tiling,
    int ActiveCores,
    double RelErrorVsFp64,
    double CubeUtilization,
    double FlopUtilization,
    double VectorUtilization,
    double GmBandwidthUtilization,
    long GmBytes,
    long GmBytesRead,
    long GmBytesWritten,
    double EmulatedMicroseconds)
{
    /// <summary>KV splits per (sequence, head group) (1 = no split-K).</summary>
    public int KvSplits { get; init; } = 1;

    /// <summary>KV rows per split (all but the last).</summary>
    public int KvRowsPerSplit { get; init; }

    /// <summary>GM bytes read that hit the L2 (0 without an L2 model).</summary>
    public long L2HitBytes { get; init; }

    /// <summary>Peak bytes resident in L2 (the capacity the run would need for its hits).</summary>
    public long L2PeakResidentBytes { get; init; }

    /// <summary>Useful Cube FLOPs of the run / emulated makespan.</summary>
    public double AchievedFlopsPerSecond { get; init; }
}

/// <summary>Both variants on the same inputs, and how far apart they are:
/// ||out_amla - out_standard||_2 / ||out_standard||_2.</summary>
public sealed record AmlaComparison(AmlaKernelReport Standard, AmlaKernelReport Amla, double RelDifferenceAmlaVsStandard);

/// <summary>Report API: run a variant of the absorbed-MLA decode kernel on an emulated device.</summary>
public static class AmlaKernel
{
    public static AmlaKernelReport Run(AmlaShape shape, AttentionVariant variant, DeviceSpec? spec = null)
    {
        var inputs = MlaDecodeInputs.Random(shape);
        return Run(shape, inputs, MlaReference.Compute(inputs), variant, spec ?? DeviceSpec.Ascend910Die, out _);
    }

    public static AmlaComparison Compare(AmlaShape shape, DeviceSpec? spec = null)
    {
        spec ??= DeviceSpec.Ascend910Die;
        var inputs = MlaDecodeInputs.Random(shape);
        var reference = MlaReference.Compute(inputs);
        var standard = Run(shape, inputs, reference, AttentionVariant.Standard, spec, out var outStandard);
        var amla = Run(shape, inputs, reference, AttentionVariant.Amla, spec, out var outAmla);
        return new AmlaComparison(standard, amla, MlaReference.RelativeL2Error(outAmla, Array.ConvertAll(outStandard, x => (double)x)));
    }

    private static AmlaKernelReport Run(AmlaShape shape, MlaDecodeInputs inputs, double[] reference, AttentionVariant variant, DeviceSpec spec, out float[] output)
    {
        var device = new Device(spec);
        var tiling = MlaTiling.For(spec, shape.Heads);
        var (splits, rowsPerSplit) = MlaDecodeKernel.ResolveKvSplits(spec, tiling, shape.Heads, shape.Batch, shape.KvLen, null);
        output = MlaDecodeKernel.Execute(device, inputs, variant, tiling, splits);
        var active = device.ActiveCores.ToList();
        double span = device.MakespanCycles;
        double flopUtil = active.Sum(c => c.CubeFlops) / (spec.AiCores * span * spec.CubeFlopsPerCycle);
        return new AmlaKernelReport(
            variant,
            shape,
            tiling,
            active.Count,
            MlaReference.RelativeL2Error(output, reference),
            device.CubeUtilization,
            flopUtil,
            device.VectorUtilization,
            device.GmBandwidthUtilization,
            device.Gm.BytesMoved,
            device.Gm.BytesRead,
            device.Gm.BytesWritten,
            device.MakespanMicroseconds)
        {
            KvSplits = splits,
            L2HitBytes = device.Gm.L2HitBytes,
            L2PeakResidentBytes = device.Gm.L2PeakResidentBytes,
            KvRowsPerSplit = rowsPerSplit,
            AchievedFlopsPerSecond = active.Sum(c => c.CubeFlops) / (span / spec.ClockHz),
        };
    }
}
