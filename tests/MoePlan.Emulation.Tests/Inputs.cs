using MoePlan.Emulation.Emulator;
using MoePlan.Emulation.Kernels;

namespace MoePlan.Emulation.Tests;

/// <summary>Builders of hand-made kernel inputs and a runner returning output plus device.</summary>
internal static class Inputs
{
    public static float[] Normal(int count, int seed, double scale = 1.0)
    {
        var rng = new Random(seed);
        var values = new float[count];
        for (int i = 0; i < count; i++)
        {
            double u1 = 1.0 - rng.NextDouble(), u2 = rng.NextDouble();
            values[i] = (float)(scale * Math.Sqrt(-2 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2));
        }

        return values;
    }

    /// <summary>Q with only rope column 0 set (= 1) for every head, so score_t = scale * kv[t][512].</summary>
    public static float[] RopeSelectorQuery(int heads)
    {
        var q = new float[heads * MlaDims.QkDim];
        for (int h = 0; h < heads; h++)
        {
            q[h * MlaDims.QkDim + MlaDims.Latent] = 1f;
        }

        return q;
    }

    /// <summary>Random KV whose rope column 0 is <paramref name="score"/>(t) / scale, so that with
    /// <see cref="RopeSelectorQuery"/> every head sees the scores score(t) (up to BF16 rounding).</summary>
    public static float[] KvWithScores(int kvLen, int seed, float scale, Func<int, double> score)
    {
        var kv = Normal(kvLen * MlaDims.QkDim, seed);
        for (int t = 0; t < kvLen; t++)
        {
            kv[t * MlaDims.QkDim + MlaDims.Latent] = (float)(score(t) / scale);
        }

        return kv;
    }

    /// <summary>Runs the kernel; <paramref name="kvSplits"/> defaults to 1 (no split-K), the per-item
    /// behaviour most tests pin down; null lets the kernel choose.</summary>
    public static (float[] Output, Device Device) Run(MlaDecodeInputs inputs, AttentionVariant variant, DeviceSpec? spec = null, int? kvSplits = 1)
    {
        var device = new Device(spec ?? DeviceSpec.Ascend910Die);
        var output = MlaDecodeKernel.Execute(device, inputs, variant, kvSplits: kvSplits);
        return (output, device);
    }
}
