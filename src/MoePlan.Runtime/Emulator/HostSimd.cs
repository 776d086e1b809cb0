using System.Numerics;
using System.Runtime.InteropServices;

namespace MoePlan.Runtime.Emulator;

/// <summary>Host implementations of the emulated units' arithmetic, vectorised with
/// <see cref="Vector{T}"/>. All arithmetic is float32 (the device's accumulate precision).</summary>
internal static class HostSimd
{
    private static readonly int W = Vector<float>.Count;

    /// <summary>C[m x n] (+)= A[m x k] * B, where B is [n x k] when <paramref name="transposeB"/>
    /// (C = A B^T, contiguous dot products) and [k x n] otherwise (row axpy).</summary>
    public static void MatMul(Span<float> c, ReadOnlySpan<float> a, ReadOnlySpan<float> b, int m, int n, int k, bool transposeB, bool accumulate)
    {
        if (!accumulate)
        {
            c[..(m * n)].Clear();
        }

        if (transposeB)
        {
            for (int i = 0; i < m; i++)
            {
                var ai = a.Slice(i * k, k);
                for (int j = 0; j < n; j++)
                {
                    c[i * n + j] += Dot(ai, b.Slice(j * k, k));
                }
            }
        }
        else
        {
            for (int i = 0; i < m; i++)
            {
                var ci = c.Slice(i * n, n);
                for (int p = 0; p < k; p++)
                {
                    Axpy(a[i * k + p], b.Slice(p * n, n), ci);
                }
            }
        }
    }

    public static float Dot(ReadOnlySpan<float> x, ReadOnlySpan<float> y)
    {
        var vx = MemoryMarshal.Cast<float, Vector<float>>(x);
        var vy = MemoryMarshal.Cast<float, Vector<float>>(y);
        var acc = Vector<float>.Zero;
        for (int i = 0; i < vx.Length; i++)
        {
            acc += vx[i] * vy[i];
        }

        float sum = Vector.Sum(acc);
        for (int i = vx.Length * W; i < x.Length; i++)
        {
            sum += x[i] * y[i];
        }

        return sum;
    }

    /// <summary>y += a * x.</summary>
    public static void Axpy(float a, ReadOnlySpan<float> x, Span<float> y)
    {
        var vx = MemoryMarshal.Cast<float, Vector<float>>(x);
        var vy = MemoryMarshal.Cast<float, Vector<float>>(y);
        var va = new Vector<float>(a);
        for (int i = 0; i < vx.Length; i++)
        {
            vy[i] += va * vx[i];
        }

        for (int i = vx.Length * W; i < x.Length; i++)
        {
            y[i] += a * x[i];
        }
    }

    public static void Scale(Span<float> x, float s)
    {
        var v = MemoryMarshal.Cast<float, Vector<float>>(x);
        var vs = new Vector<float>(s);
        for (int i = 0; i < v.Length; i++)
        {
            v[i] *= vs;
        }

        for (int i = v.Length * W; i < x.Length; i++)
        {
            x[i] *= s;
        }
    }

    public static void AddScalar(Span<float> x, float s)
    {
        var v = MemoryMarshal.Cast<float, Vector<float>>(x);
        var vs = new Vector<float>(s);
        for (int i = 0; i < v.Length; i++)
        {
            v[i] += vs;
        }

        for (int i = v.Length * W; i < x.Length; i++)
        {
            x[i] += s;
        }
    }

    /// <summary>y += x elementwise.</summary>
    public static void Add(ReadOnlySpan<float> x, Span<float> y)
    {
        var vx = MemoryMarshal.Cast<float, Vector<float>>(x);
        var vy = MemoryMarshal.Cast<float, Vector<float>>(y);
        for (int i = 0; i < vx.Length; i++)
        {
            vy[i] += vx[i];
        }

        for (int i = vx.Length * W; i < x.Length; i++)
        {
            y[i] += x[i];
        }
    }

    /// <summary>Maximum that propagates NaN (IEEE 754-2019 maximum): any NaN gives NaN.</summary>
    public static float Max(ReadOnlySpan<float> x)
    {
        var v = MemoryMarshal.Cast<float, Vector<float>>(x);
        var acc = new Vector<float>(float.NegativeInfinity);
        var ordered = Vector<int>.AllBitsSet;
        for (int i = 0; i < v.Length; i++)
        {
            acc = Vector.Max(acc, v[i]);
            ordered &= Vector.Equals(v[i], v[i]);
        }

        float max = float.NegativeInfinity;
        if (!Vector.EqualsAll(ordered, Vector<int>.AllBitsSet))
        {
            return float.NaN;
        }

        for (int i = 0; i < W && v.Length > 0; i++)
        {
            max = Math.Max(max, acc[i]);
        }

        for (int i = v.Length * W; i < x.Length; i++)
        {
            max = Math.Max(max, x[i]);
        }

        return max;
    }

    public static float Sum(ReadOnlySpan<float> x)
    {
        var v = MemoryMarshal.Cast<float, Vector<float>>(x);
        var acc = Vector<float>.Zero;
        for (int i = 0; i < v.Length; i++)
        {
            acc += v[i];
        }

        float sum = Vector.Sum(acc);
        for (int i = v.Length * W; i < x.Length; i++)
        {
            sum += x[i];
        }

        return sum;
    }

    public static void Exp(Span<float> x)
    {
        var v = MemoryMarshal.Cast<float, Vector<float>>(x);
        for (int i = 0; i < v.Length; i++)
        {
            v[i] = Vector.Exp(v[i]);
        }

        for (int i = v.Length * W; i < x.Length; i++)
        {
            x[i] = MathF.Exp(x[i]);
        }
    }

    /// <summary>Round to nearest BF16 (ties to even) in place; NaN stays (quiet) NaN.</summary>
    public static void RoundToBf16(Span<float> x)
    {
        var v = MemoryMarshal.Cast<float, Vector<uint>>(x);
        var one = Vector<uint>.One;
        var bias = new Vector<uint>(0x7FFFu);
        var keep = new Vector<uint>(0xFFFF_0000u);
        var expMask = new Vector<uint>(0x7F80_0000u);
        var manMask = new Vector<uint>(0x007F_FFFFu);
        var quiet = new Vector<uint>(0x0040_0000u);
        for (int i = 0; i < v.Length; i++)
        {
            var bits = v[i];
            var rounded = (bits + bias + ((bits >> 16) & one)) & keep;
            var isNaN = Vector.Equals(bits & expMask, expMask) & ~Vector.Equals(bits & manMask, Vector<uint>.Zero);
            v[i] = Vector.ConditionalSelect(isNaN, (bits | quiet) & keep, rounded);
        }

        for (int i = v.Length * Vector<uint>.Count; i < x.Length; i++)
        {
            x[i] = FloatBits.RoundToBf16(x[i]);
        }
    }
}
