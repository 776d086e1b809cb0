using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using BenchmarkDotNet.Attributes;
using MoePlan.Emulation.Emulator;

namespace MoePlan.Benchmarks;

/// <summary>
/// The emulator's host matmul (the Cube's arithmetic, <c>HostSimd.MatMul</c>) next to this machine's
/// single-core FP32 FMA peak (Vector256 FMA on 8 independent accumulators) and a naive triple loop.
/// Every benchmark sets OperationsPerInvoke to its FLOP count, so Mean is nanoseconds per FLOP and
/// GFLOP/s = 1 / Mean[ns].
/// </summary>
[MemoryDiagnoser(false)]
public class KernelBenchmarks
{
    private const int N = 128;                  // 128 x 128 x 128: the kernel's tile sizes
    private const int MatMulFlops = 2 * N * N * N;
    private const int PeakIterations = 1 << 16;
    private const int PeakFlops = PeakIterations * 8 * 8 * 2; // iterations x accumulators x lanes x (mul + add)

    private float[] _a = [], _b = [], _c = [];

    [GlobalSetup]
    public void Setup()
    {
        var rng = new Random(1);
        _a = Enumerable.Range(0, N * N).Select(_ => (float)rng.NextDouble()).ToArray();
        _b = Enumerable.Range(0, N * N).Select(_ => (float)rng.NextDouble()).ToArray();
        _c = new float[N * N];
    }

    [Benchmark(OperationsPerInvoke = PeakFlops, Description = "FMA peak (Vector256, 8 accumulators)")]
    public float FmaPeak()
    {
        if (!Fma.IsSupported)
        {
            throw new PlatformNotSupportedException("FMA3 is required for the peak measurement.");
        }

        var x = Vector256.Create(1.0000001f);
        var y = Vector256.Create(0.9999999f);
        Vector256<float> a0 = Vector256.Create(0f), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0;
        for (int i = 0; i < PeakIterations; i++)
        {
            a0 = Fma.MultiplyAdd(a0, x, y);
            a1 = Fma.MultiplyAdd(a1, x, y);
            a2 = Fma.MultiplyAdd(a2, x, y);
            a3 = Fma.MultiplyAdd(a3, x, y);
            a4 = Fma.MultiplyAdd(a4, x, y);
            a5 = Fma.MultiplyAdd(a5, x, y);
            a6 = Fma.MultiplyAdd(a6, x, y);
            a7 = Fma.MultiplyAdd(a7, x, y);
        }

        return Vector256.Sum(a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7);
    }

    [Benchmark(OperationsPerInvoke = MatMulFlops, Description = "HostSimd.MatMul C = A B (128^3)")]
    public void MatMul() => HostSimd.MatMul(_c, _a, _b, N, N, N, transposeB: false, accumulate: false);

    [Benchmark(OperationsPerInvoke = MatMulFlops, Description = "HostSimd.MatMul C = A B^T (128^3)")]
    public void MatMulTransposed() => HostSimd.MatMul(_c, _a, _b, N, N, N, transposeB: true, accumulate: false);

    [Benchmark(OperationsPerInvoke = MatMulFlops, Baseline = true, Description = "naive triple loop (128^3)")]
    public void Naive() => NaiveMatMul(_c, _a, _b);

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void NaiveMatMul(float[] c, float[] a, float[] b)
    {
        for (int i = 0; i < N; i++)
        {
            for (int j = 0; j < N; j++)
            {
                float s = 0;
                for (int p = 0; p < N; p++)
                {
                    s += a[i * N + p] * b[p * N + j];
                }

                c[i * N + j] = s;
            }
        }
    }
}
