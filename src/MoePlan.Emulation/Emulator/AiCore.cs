namespace MoePlan.Emulation.Emulator;

/// <summary>
/// One AI core: a Cube unit fed from L1 through L0A/L0B and accumulating in L0C, and Vector units each
/// with its own UB. Every operation computes real float32 values and is placed on its unit's timeline.
/// <para>Timing model (cycles):</para>
/// <list type="bullet">
/// <item>GM transfer (load, store, FixPipe store, atomic add): occupies its queue (Cube MTE2 for GM -> L1,
/// FixPipe for L0C -> GM, each Vector unit's MTE2 for GM -> UB and MTE3 for UB -> GM) and the core's
/// shared GM port for bytes / <see cref="DeviceSpec.GmBytesPerCycle"/> (from HBM) with data ready
/// <see cref="DeviceSpec.GmLatencyCycles"/> later, or, with an L2 (<see cref="GlobalMemory"/>), for
/// bytes / <see cref="DeviceSpec.L2BytesPerCycle"/> and <see cref="DeviceSpec.L2LatencyCycles"/> for
/// L2 hits and all writes.</item>
/// <item>L1 -> L0A/L0B (MTE1): bytes / <see cref="DeviceSpec.L1ToL0BytesPerCycle"/>, + L1ToL0 latency.</item>
/// <item>Cube mmad m x n x k: ceil(m/f) ceil(n/f) ceil(k/f) cycles (one f x f x f fractal per cycle,
/// f = <see cref="DeviceSpec.CubeFractal"/>; partial fractals cost a full one), + Cube latency.</item>
/// <item>Vector instruction: ceil(bytes / <see cref="DeviceSpec.VectorBytesPerCycle"/>) per pass, + vector latency.</item>
/// </list>
/// An operation starts at max(unit free, inputs ready, outputs' previous write ready, outputs' previous
/// reads done): RAW, WAW and WAR hazards are ordered automatically, per tensor.
/// </summary>
public sealed class AiCore
{
    private readonly Device _device;
    private readonly OnChipBuffer[] _ub;
    private readonly ExecutionUnit[] _vector;
    private readonly ExecutionUnit[] _vectorMte2;
    private readonly ExecutionUnit[] _vectorMte3;

    internal AiCore(Device device, int index)
    {
        _device = device;
        Index = index;
        var spec = device.Spec;
        L1 = new OnChipBuffer($"core{index}.L1", MemoryLocation.L1, spec.L1Bytes);
        L0A = new OnChipBuffer($"core{index}.L0A", MemoryLocation.L0A, spec.L0ABytes);
        L0B = new OnChipBuffer($"core{index}.L0B", MemoryLocation.L0B, spec.L0BBytes);
        L0C = new OnChipBuffer($"core{index}.L0C", MemoryLocation.L0C, spec.L0CBytes);
        _ub = new OnChipBuffer[spec.VectorUnitsPerCore];
        _vector = new ExecutionUnit[spec.VectorUnitsPerCore];
        _vectorMte2 = new ExecutionUnit[spec.VectorUnitsPerCore];
        _vectorMte3 = new ExecutionUnit[spec.VectorUnitsPerCore];
        for (int v = 0; v < _ub.Length; v++)
        {
            _ub[v] = new OnChipBuffer($"core{index}.UB{v}", MemoryLocation.Ub, spec.UbBytes);
            _vector[v] = new ExecutionUnit($"core{index}.Vector{v}");
            _vectorMte2[v] = new ExecutionUnit($"core{index}.Vector{v}.MTE2");
            _vectorMte3[v] = new ExecutionUnit($"core{index}.Vector{v}.MTE3");
        }

        Cube = new ExecutionUnit($"core{index}.Cube");
        Mte1 = new ExecutionUnit($"core{index}.MTE1");
        CubeMte2 = new ExecutionUnit($"core{index}.MTE2");
        FixPipe = new ExecutionUnit($"core{index}.FixPipe");
        GmBandwidth = new BandwidthPipe($"core{index}.GM");
    }

    public int Index { get; }
    public DeviceSpec Spec => _device.Spec;
    internal GlobalMemory Gm => _device.Gm;
    public OnChipBuffer L1 { get; }
    public OnChipBuffer L0A { get; }
    public OnChipBuffer L0B { get; }
    public OnChipBuffer L0C { get; }
    public IReadOnlyList<OnChipBuffer> Ub => _ub;
    public ExecutionUnit Cube { get; }
    public ExecutionUnit Mte1 { get; }
    public ExecutionUnit CubeMte2 { get; }
    public ExecutionUnit FixPipe { get; }
    public BandwidthPipe GmBandwidth { get; }
    public IReadOnlyList<ExecutionUnit> Vector => _vector;

    /// <summary>FLOPs the Cube performed (2 m n k per mmad, unpadded).</summary>
    public double CubeFlops { get; private set; }

    /// <summary>Cycle at which this core's last result is ready.</summary>
    public double MakespanCycles { get; private set; }

    /// <summary>Makes every unit of the core wait until all issued work has completed: the boundary
    /// between two kernels (or work items) that reuse the same on-chip memory.</summary>
    public void Barrier()
    {
        foreach (var unit in _vector.Concat(_vectorMte2).Concat(_vectorMte3).Append(Cube).Append(Mte1).Append(CubeMte2).Append(FixPipe))
        {
            unit.WaitUntil(MakespanCycles);
        }
    }

    private void Done(double ready) => MakespanCycles = Math.Max(MakespanCycles, ready);

    private (double Occupancy, double Latency) GmCost(long bytes, bool l2) =>
        l2 && Spec.L2BytesPerCycle is { } rate
            ? (bytes / rate, Spec.L2LatencyCycles)
            : (bytes / Spec.GmBytesPerCycle, Spec.GmLatencyCycles);

    private double GmWrite(ExecutionUnit queue, Tensor dst, int dstRow, Tensor src, long bytes)
    {
        _device.Gm.Write(dst, dstRow, src.Rows, bytes);
        var (occupancy, latency) = GmCost(bytes, _device.Gm.HasL2);
        return Finish(queue.Schedule(occupancy, latency, [src], [new TensorRows(dst, dstRow, src.Rows)], GmBandwidth));
    }

    // ---------------------------------------------------------------- data movement

    /// <summary>GM -> L1 or UB: copies the window of <paramref name="src"/> at (srcRow, srcCol) with
    /// the destination tile's shape. Same element type (the DMA does not convert).</summary>
    public double Load(Tensor dst, Tensor src, int srcRow, int srcCol)
    {
        Require(src, MemoryLocation.Gm);
        Require(dst, MemoryLocation.L1, MemoryLocation.Ub);
        RequireSameType(dst, src);
        CopyWindow(src, srcRow, srcCol, dst, 0, 0, dst.Rows, dst.Cols);
        bool hit = _device.Gm.Read(src, srcRow, dst.Rows, dst.Bytes);
        var queue = dst.Location == MemoryLocation.L1 ? CubeMte2 : _vectorMte2[UbIndex(dst)];
        var (occupancy, latency) = GmCost(dst.Bytes, hit);
        return Finish(queue.Schedule(occupancy, latency, [new TensorRows(src, srcRow, dst.Rows)], [dst], GmBandwidth));
    }

    /// <summary>UB -> GM (MTE3) or L0C -> GM (FixPipe, which may convert FP32 to BF16).</summary>
    public double Store(Tensor dst, int dstRow, int dstCol, Tensor src)
    {
        Require(dst, MemoryLocation.Gm);
        Require(src, MemoryLocation.Ub, MemoryLocation.L0C);
        bool convert = src.Location == MemoryLocation.L0C && src.Type == ElementType.Fp32 && dst.Type == ElementType.Bf16;
        if (!convert)
        {
            RequireSameType(dst, src);
        }

        CopyWindow(src, 0, 0, dst, dstRow, dstCol, src.Rows, src.Cols);
        if (convert)
        {
            for (int r = 0; r < src.Rows; r++)
            {
                HostSimd.RoundToBf16(dst.Row(dstRow + r).Slice(dstCol, src.Cols));
            }
        }

        long bytes = (long)src.Rows * src.Cols * Tensor.ElementSize(dst.Type);
        return GmWrite(WriteQueue(src), dst, dstRow, src, bytes);
    }

    /// <summary>FP32 atomic add of a UB or L0C tile into a GM window: dst += src.</summary>
    public double AtomicAdd(Tensor dst, int dstRow, int dstCol, Tensor src)
    {
        Require(dst, MemoryLocation.Gm);
        Require(src, MemoryLocation.Ub, MemoryLocation.L0C);
        RequireType(dst, ElementType.Fp32);
        RequireType(src, ElementType.Fp32);
        CheckWindow(dst, dstRow, dstCol, src.Rows, src.Cols);
        for (int r = 0; r < src.Rows; r++)
        {
            HostSimd.Add(src.Row(r), dst.Row(dstRow + r).Slice(dstCol, src.Cols));
        }

        return GmWrite(WriteQueue(src), dst, dstRow, src, src.Bytes);
    }

    /// <summary>
    /// AMLA's in-place rescale: an int32 atomic add of a UB tile of exponent increments (shift &lt;&lt; 23)
    /// into the bit patterns of an FP32 GM window, i.e. dst *= 2^shift elementwise, with zero,
    /// subnormal, underflow, overflow, NaN and Inf handled as <see cref="FloatBits.AddToExponent"/> defines.
    /// </summary>
    public double AtomicExponentAdd(Tensor dst, int dstRow, int dstCol, Tensor increments)
    {
        Require(dst, MemoryLocation.Gm);
        Require(increments, MemoryLocation.Ub);
        RequireType(dst, ElementType.Fp32);
        RequireType(increments, ElementType.Int32);
        CheckWindow(dst, dstRow, dstCol, increments.Rows, increments.Cols);
        for (int r = 0; r < increments.Rows; r++)
        {
            var d = dst.Row(dstRow + r).Slice(dstCol, increments.Cols);
            var inc = increments.Row(r);
            for (int c = 0; c < d.Length; c++)
            {
                int shift = FloatBits.ShiftOfIncrement(BitConverter.SingleToInt32Bits(inc[c]));
                if (shift != 0)
                {
                    d[c] = FloatBits.AddToExponent(d[c], shift);
                }
            }
        }

        return GmWrite(WriteQueue(increments), dst, dstRow, increments, increments.Bytes);
    }

    /// <summary>L1 -> L0A or L0B (MTE1): copies the window of <paramref name="src"/> at (srcRow, srcCol).</summary>
    public double LoadL0(Tensor dst, Tensor src, int srcRow, int srcCol)
    {
        Require(src, MemoryLocation.L1);
        Require(dst, MemoryLocation.L0A, MemoryLocation.L0B);
        RequireSameType(dst, src);
        CopyWindow(src, srcRow, srcCol, dst, 0, 0, dst.Rows, dst.Cols);
        return Finish(Mte1.Schedule(dst.Bytes / Spec.L1ToL0BytesPerCycle, Spec.L1ToL0LatencyCycles, [src], [dst]));
    }

    // ---------------------------------------------------------------- cube

    /// <summary>Cube: c (+)= a * b (b^T when <paramref name="transposeB"/>). a in L0A [m x k] BF16,
    /// b in L0B ([n x k] or [k x n]) BF16, c in L0C [m x n] FP32, FP32 accumulation.</summary>
    public double Mmad(Tensor c, Tensor a, Tensor b, bool transposeB, bool accumulate)
    {
        Require(a, MemoryLocation.L0A);
        Require(b, MemoryLocation.L0B);
        Require(c, MemoryLocation.L0C);
        RequireType(a, ElementType.Bf16);
        RequireType(b, ElementType.Bf16);
        RequireType(c, ElementType.Fp32);
        int m = a.Rows, k = a.Cols;
        int n = transposeB ? b.Rows : b.Cols;
        int kb = transposeB ? b.Cols : b.Rows;
        if (kb != k || c.Rows != m || c.Cols != n)
        {
            throw new InvalidOperationException($"Mmad shapes: a {a.Rows}x{a.Cols}, b {b.Rows}x{b.Cols}{(transposeB ? "^T" : "")}, c {c.Rows}x{c.Cols}.");
        }

        HostSimd.MatMul(c.Active, a.Values, b.Values, m, n, k, transposeB, accumulate);
        CubeFlops += 2.0 * m * n * k;
        double cycles = MmadCycles(Spec, m, n, k);
        ReadOnlySpan<TensorRows> inputs = accumulate ? [a, b, c] : [a, b];
        return Finish(Cube.Schedule(cycles, Spec.CubeLatencyCycles, inputs, [c]));
    }

    /// <summary>Occupancy of one mmad: ceil(m/f) ceil(n/f) ceil(k/f) cycles.</summary>
    public static double MmadCycles(DeviceSpec spec, int m, int n, int k)
    {
        int f = spec.CubeFractal;
        return (double)CeilDiv(m, f) * CeilDiv(n, f) * CeilDiv(k, f);
    }

    // ---------------------------------------------------------------- vector

    /// <summary>x *= s.</summary>
    public double VMuls(int v, Tensor x, float s) => Vec(v, x.Bytes, [x], [x], () => HostSimd.Scale(x.Active, s));

    /// <summary>x[i, :] -= rows[i] (rows is [x.Rows x 1]).</summary>
    public double VSubRows(int v, Tensor x, Tensor rows) => Vec(v, x.Bytes, [x, rows], [x], () =>
    {
        RequireRowVector(rows, x.Rows);
        for (int r = 0; r < x.Rows; r++)
        {
            HostSimd.AddScalar(x.Row(r), -rows.Data[r]);
        }
    });

    /// <summary>x[i, :] *= rows[i].</summary>
    public double VMulRows(int v, Tensor x, Tensor rows) => Vec(v, x.Bytes, [x, rows], [x], () =>
    {
        RequireRowVector(rows, x.Rows);
        for (int r = 0; r < x.Rows; r++)
        {
            HostSimd.Scale(x.Row(r), rows.Data[r]);
        }
    });

    /// <summary>y += x.</summary>
    public double VAdd(int v, Tensor y, Tensor x) => Vec(v, y.Bytes, [x, y], [y], () =>
    {
        if (x.Rows != y.Rows || x.Cols != y.Cols)
        {
            throw new InvalidOperationException("VAdd shapes differ.");
        }

        HostSimd.Add(x.Values, y.Active);
    });

    /// <summary>x = exp(x).</summary>
    public double VExp(int v, Tensor x) => Vec(v, x.Bytes, [x], [x], () => HostSimd.Exp(x.Active));

    /// <summary>dst[i] = max_j src[i, j] (NaN-propagating).</summary>
    public double VRowMax(int v, Tensor dst, Tensor src) => Vec(v, src.Bytes, [src], [dst], () =>
    {
        RequireRowVector(dst, src.Rows);
        for (int r = 0; r < src.Rows; r++)
        {
            dst.Data[r] = HostSimd.Max(src.Row(r));
        }
    });

    /// <summary>dst[i] = sum_j src[i, j] (FP32).</summary>
    public double VRowSum(int v, Tensor dst, Tensor src) => Vec(v, src.Bytes, [src], [dst], () =>
    {
        RequireRowVector(dst, src.Rows);
        for (int r = 0; r < src.Rows; r++)
        {
            dst.Data[r] = HostSimd.Sum(src.Row(r));
        }
    });

    /// <summary>dst (BF16) = round(src (FP32)).</summary>
    public double VCastToBf16(int v, Tensor dst, Tensor src) => Vec(v, src.Bytes, [src], [dst], () =>
    {
        RequireType(dst, ElementType.Bf16);
        RequireType(src, ElementType.Fp32);
        dst.SetShape(src.Rows, src.Cols);
        src.Values.CopyTo(dst.Active);
        HostSimd.RoundToBf16(dst.Active);
    });

    /// <summary>dst[i, :] = rows[rowOffset + i] (bit copy; any element type).</summary>
    public double VBroadcastRows(int v, Tensor dst, Tensor rows, int rowOffset = 0) => Vec(v, dst.Bytes, [rows], [dst], () =>
    {
        if (rows.Cols != 1 || rowOffset < 0 || rowOffset + dst.Rows > rows.Rows)
        {
            throw new InvalidOperationException($"{rows.Name} has no rows {rowOffset}..{rowOffset + dst.Rows - 1}.");
        }

        for (int r = 0; r < dst.Rows; r++)
        {
            dst.Row(r).Fill(rows.Data[rowOffset + r]);
        }
    });

    /// <summary>
    /// A short vector program over per-row statistics (tensors of rows x 1: running max, sums,
    /// factors). Charged as <paramref name="instructions"/> vector instructions, each one pass over the
    /// largest operand. The body computes the values on the host.
    /// </summary>
    public double VRowProgram(int v, int instructions, Tensor[] inputs, Tensor[] outputs, Action body)
    {
        long bytes = inputs.Concat(outputs).Max(t => t.Bytes);
        return Vec(v, bytes, inputs.Select(t => (TensorRows)t).ToArray(), outputs.Select(t => (TensorRows)t).ToArray(), body, instructions);
    }

    private double Vec(int v, long bytesPerPass, ReadOnlySpan<TensorRows> inputs, ReadOnlySpan<TensorRows> outputs, Action body, int passes = 1)
    {
        foreach (var t in inputs)
        {
            RequireUb(v, t.Tensor);
        }

        foreach (var t in outputs)
        {
            RequireUb(v, t.Tensor);
        }

        body();
        double cycles = passes * Math.Ceiling(bytesPerPass / Spec.VectorBytesPerCycle);
        return Finish(_vector[v].Schedule(cycles, Spec.VectorLatencyCycles, inputs, outputs));
    }

    // ---------------------------------------------------------------- helpers

    private double Finish(double ready)
    {
        Done(ready);
        return ready;
    }

    private ExecutionUnit WriteQueue(Tensor src) => src.Location == MemoryLocation.L0C ? FixPipe : _vectorMte3[UbIndex(src)];

    private int UbIndex(Tensor t)
    {
        int v = Array.IndexOf(_ub, t.Owner);
        if (v < 0)
        {
            throw new InvalidOperationException($"{t.Name} is not in a UB of core {Index}.");
        }

        return v;
    }

    private static int CeilDiv(int a, int b) => (a + b - 1) / b;

    private void RequireUb(int v, Tensor t)
    {
        if (!ReferenceEquals(t.Owner, _ub[v]))
        {
            throw new InvalidOperationException($"Vector{v} of core {Index} can only use its own UB; {t.Name} is elsewhere.");
        }

        RequireLive(t);
    }

    private static void RequireLive(Tensor t)
    {
        if (t.Released)
        {
            throw new InvalidOperationException($"Tile {t.Name} was released.");
        }
    }

    private static void Require(Tensor t, params MemoryLocation[] locations)
    {
        if (Array.IndexOf(locations, t.Location) < 0)
        {
            throw new InvalidOperationException($"{t.Name} is in {t.Location}; expected {string.Join(" or ", locations)}.");
        }

        RequireLive(t);
    }

    private static void RequireType(Tensor t, ElementType type)
    {
        if (t.Type != type)
        {
            throw new InvalidOperationException($"{t.Name} is {t.Type}; expected {type}.");
        }
    }

    private static void RequireSameType(Tensor a, Tensor b)
    {
        if (a.Type != b.Type)
        {
            throw new InvalidOperationException($"{a.Name} is {a.Type} but {b.Name} is {b.Type}.");
        }
    }

    private static void RequireRowVector(Tensor t, int rows)
    {
        if (t.Rows != rows || t.Cols != 1)
        {
            throw new InvalidOperationException($"{t.Name} must be {rows}x1, is {t.Rows}x{t.Cols}.");
        }
    }

    private static void CheckWindow(Tensor t, int row, int col, int rows, int cols)
    {
        if (row < 0 || col < 0 || row + rows > t.Rows || col + cols > t.Cols)
        {
            throw new InvalidOperationException($"Window {rows}x{cols} at ({row},{col}) is outside {t.Name} ({t.Rows}x{t.Cols}).");
        }
    }

    private static void CopyWindow(Tensor src, int srcRow, int srcCol, Tensor dst, int dstRow, int dstCol, int rows, int cols)
    {
        CheckWindow(src, srcRow, srcCol, rows, cols);
        CheckWindow(dst, dstRow, dstCol, rows, cols);
        for (int r = 0; r < rows; r++)
        {
            src.Row(srcRow + r).Slice(srcCol, cols).CopyTo(dst.Row(dstRow + r).Slice(dstCol, cols));
        }
    }
}
