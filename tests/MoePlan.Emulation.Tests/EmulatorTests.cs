using MoePlan.Emulation.Emulator;

namespace MoePlan.Emulation.Tests;

public class EmulatorTests
{
    /// <summary>A spec with round numbers so that timings can be computed by hand (no L2).</summary>
    private static readonly DeviceSpec Simple = DeviceSpec.Ascend910Die with
    {
        L2BytesPerCycle = null,
        AiCores = 2,
        GmBytesPerCycle = 32,
        GmLatencyCycles = 100,
        L1ToL0BytesPerCycle = 1024,
        L1ToL0LatencyCycles = 10,
        CubeLatencyCycles = 32,
        VectorBytesPerCycle = 256,
        VectorLatencyCycles = 16,
    };

    [Fact]
    public void Default_spec_derives_clock_and_bandwidth_from_published_figures()
    {
        var spec = DeviceSpec.Ascend910Die;
        Assert.Equal(8192, spec.CubeFlopsPerCycle);
        Assert.Equal(376e12 / (24 * 8192.0), spec.ClockHz, 1e-3);             // 1.9124 GHz
        Assert.Equal(376e12, spec.PeakFlopsPerSecond, 1e3);
        Assert.Equal(1.6e12 / 24 / spec.ClockHz, spec.GmBytesPerCycle, 1e-9);  // ~34.86 B/cycle
        Assert.Equal(512 * 1024, spec.L1Bytes);
        Assert.Equal(192 * 1024, spec.UbBytes);
    }

    [Fact]
    public void Over_capacity_tile_is_rejected_with_buffer_and_sizes()
    {
        var core = new Device(Simple).Cores[0];
        var ex = Assert.Throws<BufferCapacityExceededException>(() => core.L0A.Allocate("a", 128, 257, ElementType.Bf16));
        Assert.Equal("core0.L0A", ex.BufferName);
        Assert.Equal(128 * 257 * 2, ex.RequestedBytes);
        Assert.Equal(64 * 1024, ex.CapacityBytes);
        Assert.Equal(0, ex.InUseBytes);

        core.Ub[1].Allocate("x", 64, 512, ElementType.Fp32); // 128 KB of 192 KB
        var ex2 = Assert.Throws<BufferCapacityExceededException>(() => core.Ub[1].Allocate("y", 64, 320, ElementType.Fp32)); // 80 KB more
        Assert.Equal("core0.UB1", ex2.BufferName);
        Assert.Equal(64 * 320 * 4, ex2.RequestedBytes);
        core.Ub[1].Allocate("z", 64, 256, ElementType.Fp32); // exactly the remaining 64 KB fits
        Assert.Equal(128 * 1024, ex2.InUseBytes);
        Assert.Equal(192 * 1024, ex2.CapacityBytes);
    }

    [Fact]
    public void Kernel_tiling_that_cannot_fit_l1_is_a_contract_error()
    {
        var tiny = Simple with { L1Bytes = 100 * 1024 };
        Assert.Throws<BufferCapacityExceededException>(() => Kernels.MlaTiling.For(tiny, 128));
    }

    [Fact]
    public void Mmad_takes_fractal_count_plus_latency_and_computes_the_product()
    {
        // m = 128, n = 64, k = 256: (128/16)(64/16)(256/16) = 8 * 4 * 16 = 512 cycles
        // = 2 m n k / 8192 FLOPs per cycle; ready after + 32 cycles latency.
        var device = new Device(Simple);
        var core = device.Cores[0];
        var a = core.L0A.Allocate("a", 128, 256, ElementType.Bf16);
        var b = core.L0B.Allocate("b", 64, 256, ElementType.Bf16);
        var c = core.L0C.Allocate("c", 128, 64, ElementType.Fp32);
        FillBf16(a, (i, j) => (i + 2 * j) % 5 - 2);
        FillBf16(b, (i, j) => (3 * i + j) % 7 - 3);
        double ready = core.Mmad(c, a, b, transposeB: true, accumulate: false);
        Assert.Equal(2.0 * 128 * 64 * 256 / 8192, core.Cube.BusyCycles);
        Assert.Equal(512 + 32, ready);
        for (int i = 0; i < 128; i += 17)
        {
            for (int j = 0; j < 64; j += 5)
            {
                double expected = 0;
                for (int p = 0; p < 256; p++)
                {
                    expected += ((i + 2 * p) % 5 - 2) * ((3 * j + p) % 7 - 3);
                }

                Assert.Equal(expected, c[i, j]);
            }
        }
    }

    [Fact]
    public void Partial_fractals_cost_a_whole_fractal()
    {
        Assert.Equal(1 * 1 * 1, AiCore.MmadCycles(Simple, 1, 1, 1));
        Assert.Equal(8 * 5 * 36, AiCore.MmadCycles(Simple, 128, 80, 576));
        Assert.Equal(2 * 1 * 2, AiCore.MmadCycles(Simple, 17, 16, 17));
    }

    [Fact]
    public void Dependent_chain_adds_transfer_times_and_latencies()
    {
        // GM -> L1: 128 x 64 BF16 = 16384 B / 32 B per cycle = 512 cycles, + 100 latency  -> 612
        // L1 -> L0A: 16384 B / 1024 = 16 cycles, + 10 latency                              -> 638
        // mmad 128 x 16 x 64 (b 16 x 64 already in L0B at t = 0): 8 * 1 * 4 = 32, + 32     -> 702
        var device = new Device(Simple);
        var core = device.Cores[0];
        var gmA = device.Gm.Allocate("a", 128, 64, ElementType.Bf16);
        gmA.Upload(new float[128 * 64]);
        var l1 = core.L1.Allocate("a", 128, 64, ElementType.Bf16);
        var l0a = core.L0A.Allocate("a", 128, 64, ElementType.Bf16);
        var l0b = core.L0B.Allocate("b", 16, 64, ElementType.Bf16);
        var c = core.L0C.Allocate("c", 128, 16, ElementType.Fp32);
        Assert.Equal(612, core.Load(l1, gmA, 0, 0));
        Assert.Equal(638, core.LoadL0(l0a, l1, 0, 0));
        Assert.Equal(702, core.Mmad(c, l0a, l0b, transposeB: true, accumulate: false));
        Assert.Equal(702, device.MakespanCycles);
        Assert.Equal(16384, device.Gm.BytesRead);
        Assert.Equal(32.0 / (2 * 702), device.CubeUtilization, 1e-12); // device utilisation: the idle second core counts
    }

    [Fact]
    public void Cube_and_vector_overlap_and_writes_wait_for_readers()
    {
        var device = new Device(Simple);
        var core = device.Cores[0];
        var a = core.L0A.Allocate("a", 128, 128, ElementType.Bf16);
        var b = core.L0B.Allocate("b", 128, 128, ElementType.Bf16);
        var c = core.L0C.Allocate("c", 128, 128, ElementType.Fp32);
        var x = core.Ub[0].Allocate("x", 64, 256, ElementType.Fp32); // 64 KB: 256 cycles per pass
        double cube = core.Mmad(c, a, b, transposeB: true, accumulate: false); // 512 cycles + 32
        double vec = core.VExp(0, x);                                          // 256 cycles + 16
        Assert.Equal(544, cube);
        Assert.Equal(272, vec);                  // independent: runs alongside the Cube
        Assert.Equal(544, device.MakespanCycles); // max, not sum

        // The second mmad overwrites c: it must not start before c's previous write (in-order Cube:
        // at 512) and its result is ready 512 + 512 + 32.
        Assert.Equal(1056, core.Mmad(c, a, b, transposeB: true, accumulate: false));

        // Writing a (L0A) again waits until the second mmad has read it (ends at 1024).
        var l1 = core.L1.Allocate("src", 128, 128, ElementType.Bf16);
        Assert.Equal(1024 + 32 + 10, core.LoadL0(a, l1, 0, 0)); // 32768 B / 1024 = 32 cycles, + 10
    }

    [Fact]
    public void Gm_traffic_and_atomics_are_counted_and_computed()
    {
        var device = new Device(Simple);
        var core = device.Cores[0];
        var gm = device.Gm.Allocate("o", 4, 8, ElementType.Fp32);
        gm.Upload(Enumerable.Range(0, 32).Select(i => (float)i).ToArray());
        var ub = core.Ub[0].Allocate("t", 4, 8, ElementType.Fp32);
        core.Load(ub, gm, 0, 0);
        core.AtomicAdd(gm, 0, 0, ub);              // gm = 2 i
        var inc = core.Ub[0].Allocate("inc", 2, 8, ElementType.Int32);
        var rows = core.Ub[0].Allocate("rows", 4, 1, ElementType.Int32);
        core.VRowProgram(0, 1, [rows], [rows], () => { });
        core.VBroadcastRows(0, inc, rows, 0);      // zero increments: no change
        core.AtomicExponentAdd(gm, 2, 0, inc);
        Assert.Equal(128, device.Gm.BytesRead);
        Assert.Equal(128 + 64, device.Gm.BytesWritten);
        Assert.Equal(Enumerable.Range(0, 32).Select(i => 2f * i), gm.Download());
    }

    [Fact]
    public void Rescale_and_accumulate_from_different_queues_stay_ordered()
    {
        // AMLA's O update: x * 2^-2 (int add on a Vector unit's MTE3 queue) then + y (FP32 atomic add
        // from L0C on the FixPipe queue). The integer and float adds do not commute, so the second
        // must start after the first has landed: 8 x 8 int32 = 256 B -> 8 cycles + 100 latency = 108;
        // the atomic then starts at 108: 256 B -> 8 cycles + 100 -> 216.
        var device = new Device(Simple);
        var core = device.Cores[0];
        var o = device.Gm.Allocate("o", 8, 8, ElementType.Fp32);
        o.Upload(Enumerable.Repeat(12f, 64).ToArray());
        var rows = core.Ub[0].Allocate("rows", 8, 1, ElementType.Int32);
        var inc = core.Ub[0].Allocate("inc", 8, 8, ElementType.Int32);
        rows.Data.AsSpan().Fill(BitConverter.Int32BitsToSingle(FloatBits.ExponentIncrement(-2)));
        var y = core.L0C.Allocate("y", 8, 8, ElementType.Fp32);
        y.Data.AsSpan().Fill(1f);
        core.VBroadcastRows(0, inc, rows);                  // 256 B / 256 = 1 cycle + 16 -> ready 17
        Assert.Equal(17 + 108, core.AtomicExponentAdd(o, 0, 0, inc));
        Assert.Equal(17 + 108 + 108, core.AtomicAdd(o, 0, 0, y));
        Assert.All(o.Download(), x => Assert.Equal(12f / 4 + 1, x));
    }

    [Fact]
    public void Gm_dependencies_are_tracked_per_row()
    {
        // Two Vector units store 4 x 8 FP32 (128 B -> 4 cycles, + 100 latency) into one GM tensor.
        // Disjoint rows: both stores only share the bandwidth (second starts at 4, ready 108).
        // Overlapping rows: a store of rows 2..5 from Vector 1's queue waits for rows 2..3 (Vector 0's)
        // to land at 104; rows 4..5 are its own earlier write, ordered by the queue. Starts 104, ready 208.
        var device = new Device(Simple);
        var core = device.Cores[0];
        var gm = device.Gm.Allocate("o", 8, 8, ElementType.Fp32);
        var a = core.Ub[0].Allocate("a", 4, 8, ElementType.Fp32);
        var b = core.Ub[1].Allocate("b", 4, 8, ElementType.Fp32);
        Assert.Equal(104, core.Store(gm, 0, 0, a));
        Assert.Equal(108, core.Store(gm, 4, 0, b));
        Assert.Equal(208, core.Store(gm, 2, 0, b));
    }

    [Fact]
    public void L2_hit_on_a_re_read_is_charged_at_the_l2_rate()
    {
        // L2 at 128 B/cycle and 40 cycles. A 4 x 8 FP32 tile is 128 bytes.
        // 1st read of the uploaded tensor: a miss, 128 / 32 = 4 cycles + 100 latency -> 104.
        // 2nd read of rows 0..3 (by Vector 1's queue, whose MTE2 is free): a hit, starts when the port
        // is free (4), 128 / 128 = 1 cycle + 40 -> 45.
        var spec = Simple with { L2BytesPerCycle = 128, L2LatencyCycles = 40 };
        var device = new Device(spec);
        var core = device.Cores[0];
        var gm = device.Gm.Allocate("x", 8, 8, ElementType.Fp32);
        gm.Upload(new float[64]);
        var a = core.Ub[0].Allocate("a", 4, 8, ElementType.Fp32);
        var b = core.Ub[1].Allocate("b", 4, 8, ElementType.Fp32);
        Assert.Equal(104, core.Load(a, gm, 0, 0));
        Assert.Equal(45, core.Load(b, gm, 0, 0));
        // Rows 4..7 were never touched: a miss again. Vector 0's MTE2 is free at 4 and the port at 5:
        // 5 + 4 + 100 = 109.
        var c = core.Ub[0].Allocate("c", 4, 8, ElementType.Fp32);
        Assert.Equal(109, core.Load(c, gm, 4, 0));
        Assert.Equal(128, device.Gm.L2HitBytes);
        Assert.Equal(256, device.Gm.HbmBytesRead);
        Assert.Equal(256, device.Gm.L2PeakResidentBytes);
    }

    [Fact]
    public void L2_evicts_the_least_recently_used_tensor_when_full()
    {
        // Capacity 256 B: x (128 B) then y (128 B) fill it; touching z (128 B) evicts x, so re-reading
        // x misses while re-reading z hits.
        var spec = Simple with { L2BytesPerCycle = 128, L2LatencyCycles = 40, L2Bytes = 256 };
        var device = new Device(spec);
        var core = device.Cores[0];
        var t = core.Ub[0].Allocate("t", 4, 8, ElementType.Fp32);
        Tensor Make(string name)
        {
            var g = device.Gm.Allocate(name, 4, 8, ElementType.Fp32);
            g.Upload(new float[32]);
            return g;
        }

        var x = Make("x");
        var y = Make("y");
        var z = Make("z");
        core.Load(t, x, 0, 0);
        core.Load(t, y, 0, 0);
        core.Load(t, z, 0, 0);
        Assert.Equal(0, device.Gm.L2HitBytes);
        core.Load(t, z, 0, 0);
        Assert.Equal(128, device.Gm.L2HitBytes);
        core.Load(t, x, 0, 0);
        Assert.Equal(128, device.Gm.L2HitBytes);
        Assert.Equal(256, device.Gm.L2ResidentBytes);
    }

    private static void FillBf16(Tensor t, Func<int, int, double> f)
    {
        // Small integers are exact in BF16; fill through the host view the emulator uses.
        var values = new float[t.Rows * t.Cols];
        for (int i = 0; i < t.Rows; i++)
        {
            for (int j = 0; j < t.Cols; j++)
            {
                values[i * t.Cols + j] = (float)f(i, j);
            }
        }

        values.CopyTo(t.Data, 0);
    }
}
