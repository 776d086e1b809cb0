using MoePlan.Emulation.Emulator;
using MoePlan.Emulation.Kernels;

namespace MoePlan.Emulation.Tests;

/// <summary>Both kernel variants against the FP64 reference and against each other, with the bounds
/// derived in <see cref="MlaErrorBounds"/>.</summary>
public class MlaAccuracyTests
{
    [Theory]
    [InlineData(AttentionVariant.Standard, 32, 700, 2)]
    [InlineData(AttentionVariant.Amla, 32, 700, 2)]
    [InlineData(AttentionVariant.Standard, 144, 200, 2)] // two head groups (128 + 16), four work items
    [InlineData(AttentionVariant.Amla, 144, 200, 2)]
    public void Matches_fp64_reference_within_derived_bound(AttentionVariant variant, int heads, int kvLen, int batch)
    {
        var inputs = MlaDecodeInputs.Random(new AmlaShape(heads, kvLen, batch, Seed: 11));
        var reference = MlaReference.Compute(inputs);
        var (output, device) = Inputs.Run(inputs, variant);
        var tiling = MlaTiling.For(device.Spec, heads);
        var bounds = new MlaErrorBounds(inputs, reference, variant, tiling.BlockKv);
        double rel = bounds.AssertWithin(output, reference, variant.ToString());
        Assert.True(rel > 0, "BF16 rounding of P must leave a visible error");
    }

    [Fact]
    public void Variants_agree_with_each_other_within_the_sum_of_their_bounds()
    {
        var inputs = MlaDecodeInputs.Random(new AmlaShape(16, 600, 1, Seed: 5));
        var reference = MlaReference.Compute(inputs);
        var (standard, _) = Inputs.Run(inputs, AttentionVariant.Standard);
        var (amla, device) = Inputs.Run(inputs, AttentionVariant.Amla);
        int blockKv = MlaTiling.For(device.Spec, 16).BlockKv;
        var bs = new MlaErrorBounds(inputs, reference, AttentionVariant.Standard, blockKv);
        var ba = new MlaErrorBounds(inputs, reference, AttentionVariant.Amla, blockKv);
        double diff2 = 0;
        for (int i = 0; i < reference.Length; i++)
        {
            double d = Math.Abs(amla[i] - standard[i]);
            Assert.True(d <= bs.Elementwise[i] + ba.Elementwise[i], $"element {i}: {amla[i]} vs {standard[i]}");
            diff2 += d * d;
        }

        // Triangle inequality on the statistical bounds of each variant.
        double allowed = 3 * (bs.Sigma + ba.Sigma);
        Assert.True(Math.Sqrt(diff2) <= allowed, $"||amla - standard|| = {Math.Sqrt(diff2)} > {allowed}");
    }

    public static TheoryData<int, int, int> RandomCases()
    {
        // Deterministic sample of (seed, heads, kvLen): kv lengths cover 1, block edges and up to 600.
        var data = new TheoryData<int, int, int>();
        var rng = new Random(2025);
        int[] edges = [1, 2, 15, 16, 17, 127, 128, 129, 255, 256, 257, 600];
        for (int i = 0; i < 24; i++)
        {
            int kv = i < edges.Length ? edges[i] : rng.Next(1, 601);
            int heads = rng.Next(2) == 0 ? 8 : 16;
            data.Add(1000 + i, heads, kv);
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(RandomCases))]
    public void Random_inputs_both_variants_within_bounds(int seed, int heads, int kvLen)
    {
        var inputs = MlaDecodeInputs.Random(new AmlaShape(heads, kvLen, 1, seed));
        var reference = MlaReference.Compute(inputs);
        int blockKv = MlaTiling.For(DeviceSpec.Ascend910Die, heads).BlockKv;
        foreach (var variant in new[] { AttentionVariant.Standard, AttentionVariant.Amla })
        {
            var (output, _) = Inputs.Run(inputs, variant);
            new MlaErrorBounds(inputs, reference, variant, blockKv).AssertWithin(output, reference, $"{variant} seed {seed}");
        }
    }

    [Fact]
    public void Report_api_measures_error_and_traffic()
    {
        var shape = new AmlaShape(16, 300, 1, Seed: 3);
        var report = AmlaKernel.Run(shape, AttentionVariant.Amla);
        var inputs = MlaDecodeInputs.Random(shape);
        var reference = MlaReference.Compute(inputs);
        // 3 blocks of 128 for one item on 24 cores: steps(s) = ceil(s / 24) (ceil(3 / s) + 2) is 5, 4, 3
        // for s = 1, 2, 3, so three splits; the combine (16 rows: one slice) runs on a fourth core.
        Assert.Equal((3, 128), (report.KvSplits, report.KvRowsPerSplit));
        var bounds = new MlaErrorBounds(inputs, reference, AttentionVariant.Amla, report.Tiling.BlockKv, report.KvRowsPerSplit);
        double refNorm = MlaErrorBounds.Norm(reference);
        Assert.InRange(report.RelErrorVsFp64, 1e-6, 3 * bounds.Sigma / refNorm);
        Assert.InRange(report.CubeUtilization, 1e-6, 1.0);
        Assert.Equal(report.GmBytesRead + report.GmBytesWritten, report.GmBytes);
        Assert.Equal(4, report.ActiveCores);
        Assert.True(report.EmulatedMicroseconds > 0);
    }
}
