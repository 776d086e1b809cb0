using MoePlan.Emulation.Emulator;
using MoePlan.Emulation.Kernels;

namespace MoePlan.Emulation.Tests;

/// <summary>
/// GM traffic of both variants, derived by hand. Per work item of H heads, KV length L, B blocks,
/// W = H x 512 x 4 bytes (one FP32 O tile):
/// common reads: Q (1152 H), KV once (1152 L), S loaded by the Vector units (4 H L), P loaded into L1
/// (2 H L), O read once by the final normalisation (W);
/// common writes: S (4 H L), P (2 H L), block 0's P V stored straight into O (W), the output (W).
/// Standard, per block j &gt;= 1: P V stored to a workspace (write W), O and P V loaded (read 2W), O
/// stored (write W). AMLA, per block j &gt;= 1: P V atomically added into O (write W), plus a
/// 2048-byte exponent increment row for each row whose reference exponent changed.
/// So Standard - AMLA = 3 W (B - 1) - 2048 x (rescaled rows).
/// </summary>
public class MlaTrafficTests
{
    private static readonly float Scale = MlaDims.DeepSeekSoftmaxScale;

    private static (long Read, long Written) Measure(MlaDecodeInputs inputs, AttentionVariant variant)
    {
        var (_, device) = Inputs.Run(inputs, variant);
        return (device.Gm.BytesRead, device.Gm.BytesWritten);
    }

    [Fact]
    public void Small_shape_traffic_matches_hand_count_when_the_max_never_moves()
    {
        // H = 16, L = 256: the tiling gives BlockKv = 128 (L1: 18432 + 128 x 3520 <= 524288), B = 2.
        // Scores: block 0 about +2, block 1 about -2, so no row's exponent changes after block 0.
        Assert.Equal(128, MlaTiling.For(DeviceSpec.Ascend910Die, 16).BlockKv);
        var kv = Inputs.KvWithScores(256, 1, Scale, t => t < 128 ? 2 + 0.001 * (t % 5) : -2 + 0.001 * (t % 7));
        var inputs = new MlaDecodeInputs(1, 16, 256, Inputs.RopeSelectorQuery(16), kv, Scale);
        // W = 32768. Common reads 18432 + 294912 + 16384 + 8192 + 32768 = 370688;
        // common writes 16384 + 8192 + 32768 + 32768 = 90112.
        var standard = Measure(inputs, AttentionVariant.Standard);
        var amla = Measure(inputs, AttentionVariant.Amla);
        Assert.Equal((370_688L + 65_536, 90_112L + 65_536), standard);
        Assert.Equal((370_688L, 90_112L + 32_768), amla);
        Assert.Equal(98_304, standard.Read + standard.Written - amla.Read - amla.Written); // 3 W (B - 1)
    }

    [Fact]
    public void Small_shape_traffic_matches_hand_count_when_every_row_rescales()
    {
        // Block 1 scores are 5 higher: every one of the 16 rows rescales once (16 x 2048 = 32768 bytes).
        var kv = Inputs.KvWithScores(256, 2, Scale, t => t < 128 ? -2 + 0.001 * (t % 5) : 3 + 0.001 * (t % 7));
        var inputs = new MlaDecodeInputs(1, 16, 256, Inputs.RopeSelectorQuery(16), kv, Scale);
        var standard = Measure(inputs, AttentionVariant.Standard);
        var amla = Measure(inputs, AttentionVariant.Amla);
        Assert.Equal((370_688L + 65_536, 90_112L + 65_536), standard);
        Assert.Equal((370_688L, 90_112L + 32_768 + 32_768), amla);
        Assert.Equal(65_536, standard.Read + standard.Written - amla.Read - amla.Written);
    }

    [Fact]
    public void General_shape_traffic_matches_the_formula()
    {
        // H = 24, L = 300, batch 2 (two work items on two cores), random scores: count the rows whose
        // exponent changed from the FP32 scores' block maxima... that would re-derive the kernel, so use
        // scores that are constant within a block and strictly decreasing across blocks (no rescale).
        const int h = 24, l = 300, batch = 2;
        int bk = MlaTiling.For(DeviceSpec.Ascend910Die, h).BlockKv;
        int blocks = (l + bk - 1) / bk;
        var kv = Inputs.KvWithScores(l, 3, Scale, t => -(t / bk)).Concat(Inputs.KvWithScores(l, 4, Scale, t => 1 - (t / bk))).ToArray();
        var q = Inputs.RopeSelectorQuery(h).Concat(Inputs.RopeSelectorQuery(h)).ToArray();
        var inputs = new MlaDecodeInputs(batch, h, l, q, kv, Scale);
        long w = h * 512 * 4;
        long commonRead = 1152L * h + 1152L * l + 6L * h * l + w;
        long commonWritten = 6L * h * l + 2 * w;
        var standard = Measure(inputs, AttentionVariant.Standard);
        var amla = Measure(inputs, AttentionVariant.Amla);
        Assert.Equal((batch * (commonRead + 2 * w * (blocks - 1)), batch * (commonWritten + 2 * w * (blocks - 1))), standard);
        Assert.Equal((batch * commonRead, batch * (commonWritten + w * (blocks - 1))), amla);
    }

    [Fact]
    public void Amla_moves_fewer_bytes_on_random_inputs()
    {
        // One item, no split-K (with splits of one block each there is no rescale traffic to save).
        var inputs = MlaDecodeInputs.Random(new AmlaShape(16, 500, 1, Seed: 21));
        var amla = Inputs.Run(inputs, AttentionVariant.Amla).Device.Gm.BytesMoved;
        var standard = Inputs.Run(inputs, AttentionVariant.Standard).Device.Gm.BytesMoved;
        Assert.True(amla < standard, $"AMLA {amla} B, Standard {standard} B");
    }

    [Fact]
    public void Work_items_spread_over_cores_and_queue_behind_each_other_on_one_core()
    {
        // 3 sequences on a 2-core device: cores 0 and 1 take sequences 0 and 1 in parallel, core 0 then
        // runs sequence 2 after a barrier. Standard's schedule does not depend on the data (AMLA's
        // rescale traffic does), so every item takes the same time and core 0 takes twice as long.
        var twoCores = DeviceSpec.Ascend910Die with { AiCores = 2 };
        var inputs = MlaDecodeInputs.Random(new AmlaShape(8, 300, 3, Seed: 4));
        var (_, device) = Inputs.Run(inputs, AttentionVariant.Standard, twoCores);
        var one = Inputs.Run(MlaDecodeInputs.Random(new AmlaShape(8, 300, 1, Seed: 5)), AttentionVariant.Standard, twoCores).Device;
        Assert.Equal(2 * one.MakespanCycles, device.Cores[0].MakespanCycles, 1e-6);
        Assert.Equal(one.MakespanCycles, device.Cores[1].MakespanCycles, 1e-6);
    }

    [Fact]
    public void Preload_pipeline_overlaps_cube_and_vector_work()
    {
        // With GM bandwidth and latencies out of the way, the Vector units' softmax of block k runs
        // while the Cube computes block k+1: the makespan is less than Cube busy + Vector busy.
        var fast = DeviceSpec.Ascend910Die with { GmBytesPerCycle = 1e6, GmLatencyCycles = 0, L2BytesPerCycle = null };
        var inputs = MlaDecodeInputs.Random(new AmlaShape(64, 640, 1, Seed: 1));
        var (_, device) = Inputs.Run(inputs, AttentionVariant.Amla, fast);
        var core = device.Cores[0];
        Assert.True(device.MakespanCycles < core.Cube.BusyCycles + core.Vector[0].BusyCycles,
            $"makespan {device.MakespanCycles}, cube {core.Cube.BusyCycles}, vector {core.Vector[0].BusyCycles}");
    }
}
