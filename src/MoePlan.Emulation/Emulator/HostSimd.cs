using System.Numerics;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace MoePlan.Emulation.Emulator;

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

        if (Fma.IsSupported)
        {
            if (transposeB)
            {
                MatMulTransposedFma(c, a, b, m, n, k);
            }
            else
            {
                MatMulFma(c, a, b, m, n, k);
            }

            return;
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
            AxpyRows(c, a, b, 0, m, n, k);
        }
    }

    private static void AxpyRows(Span<float> c, ReadOnlySpan<float> a, ReadOnlySpan<float> b, int rowStart, int m, int n, int k)
    {
        for (int i = rowStart; i < m; i++)
        {
            var ci = c.Slice(i * n, n);
            for (int p = 0; p < k; p++)
            {
                Axpy(a[i * k + p], b.Slice(p * n, n), ci);
            }
        }
    }

    /// <summary>C += A B with a 4 x 16 register block (8 Vector256 accumulators): per k step two loads of
    /// B, four broadcasts of A, eight FMAs. Remainder rows and columns take the axpy / scalar path.</summary>
    private static unsafe void MatMulFma(Span<float> c, ReadOnlySpan<float> a, ReadOnlySpan<float> b, int m, int n, int k)
    {
        int rows = m / 4 * 4, cols = n / 16 * 16;
        fixed (float* pc = c, pa = a, pb = b)
        {
            for (int i = 0; i < rows; i += 4)
            {
                float* a0 = pa + i * k, a1 = a0 + k, a2 = a1 + k, a3 = a2 + k;
                for (int j = 0; j < cols; j += 16)
                {
                    float* c0 = pc + i * n + j, c1 = c0 + n, c2 = c1 + n, c3 = c2 + n;
                    var c00 = Avx.LoadVector256(c0); var c01 = Avx.LoadVector256(c0 + 8);
                    var c10 = Avx.LoadVector256(c1); var c11 = Avx.LoadVector256(c1 + 8);
                    var c20 = Avx.LoadVector256(c2); var c21 = Avx.LoadVector256(c2 + 8);
                    var c30 = Avx.LoadVector256(c3); var c31 = Avx.LoadVector256(c3 + 8);
                    float* bp = pb + j;
                    for (int p = 0; p < k; p++, bp += n)
                    {
                        var b0 = Avx.LoadVector256(bp);
                        var b1 = Avx.LoadVector256(bp + 8);
                        var x = Vector256.Create(a0[p]);
                        c00 = Fma.MultiplyAdd(x, b0, c00); c01 = Fma.MultiplyAdd(x, b1, c01);
                        x = Vector256.Create(a1[p]);
                        c10 = Fma.MultiplyAdd(x, b0, c10); c11 = Fma.MultiplyAdd(x, b1, c11);
                        x = Vector256.Create(a2[p]);
                        c20 = Fma.MultiplyAdd(x, b0, c20); c21 = Fma.MultiplyAdd(x, b1, c21);
                        x = Vector256.Create(a3[p]);
                        c30 = Fma.MultiplyAdd(x, b0, c30); c31 = Fma.MultiplyAdd(x, b1, c31);
                    }

                    Avx.Store(c0, c00); Avx.Store(c0 + 8, c01);
                    Avx.Store(c1, c10); Avx.Store(c1 + 8, c11);
                    Avx.Store(c2, c20); Avx.Store(c2 + 8, c21);
                    Avx.Store(c3, c30); Avx.Store(c3 + 8, c31);
                }

                for (int r = i; r < i + 4; r++)
                {
                    for (int j = cols; j < n; j++)
                    {
                        float sum = 0;
                        for (int p = 0; p < k; p++)
                        {
                            sum += pa[r * k + p] * pb[p * n + j];
                        }

                        pc[r * n + j] += sum;
                    }
                }
            }
        }

        AxpyRows(c, a, b, rows, m, n, k);
    }

    /// <summary>C += A B^T with a 2 x 4 block of dot products (8 Vector256 accumulators): per 8-wide k
    /// step two loads of A, four of B, eight FMAs; horizontal sums at the end.</summary>
    private static unsafe void MatMulTransposedFma(Span<float> c, ReadOnlySpan<float> a, ReadOnlySpan<float> b, int m, int n, int k)
    {
        int rows = m / 2 * 2, cols = n / 4 * 4, kv = k / 8 * 8;
        fixed (float* pc = c, pa = a, pb = b)
        {
            for (int i = 0; i < rows; i += 2)
            {
                float* a0 = pa + i * k, a1 = a0 + k;
                for (int j = 0; j < cols; j += 4)
                {
                    float* b0 = pb + j * k, b1 = b0 + k, b2 = b1 + k, b3 = b2 + k;
                    Vector256<float> s00 = default, s01 = default, s02 = default, s03 = default;
                    Vector256<float> s10 = default, s11 = default, s12 = default, s13 = default;
                    for (int p = 0; p < kv; p += 8)
                    {
                        var x0 = Avx.LoadVector256(a0 + p);
                        var x1 = Avx.LoadVector256(a1 + p);
                        var y = Avx.LoadVector256(b0 + p);
                        s00 = Fma.MultiplyAdd(x0, y, s00); s10 = Fma.MultiplyAdd(x1, y, s10);
                        y = Avx.LoadVector256(b1 + p);
                        s01 = Fma.MultiplyAdd(x0, y, s01); s11 = Fma.MultiplyAdd(x1, y, s11);
                        y = Avx.LoadVector256(b2 + p);
                        s02 = Fma.MultiplyAdd(x0, y, s02); s12 = Fma.MultiplyAdd(x1, y, s12);
                        y = Avx.LoadVector256(b3 + p);
                        s03 = Fma.MultiplyAdd(x0, y, s03); s13 = Fma.MultiplyAdd(x1, y, s13);
                    }

                    float* c0 = pc + i * n + j, c1 = c0 + n;
                    c0[0] += Vector256.Sum(s00) + Tail(a0, b0, kv, k);
                    c0[1] += Vector256.Sum(s01) + Tail(a0, b1, kv, k);
                    c0[2] += Vector256.Sum(s02) + Tail(a0, b2, kv, k);
                    c0[3] += Vector256.Sum(s03) + Tail(a0, b3, kv, k);
                    c1[0] += Vector256.Sum(s10) + Tail(a1, b0, kv, k);
                    c1[1] += Vector256.Sum(s11) + Tail(a1, b1, kv, k);
                    c1[2] += Vector256.Sum(s12) + Tail(a1, b2, kv, k);
                    c1[3] += Vector256.Sum(s13) + Tail(a1, b3, kv, k);
                }
            }
        }

        for (int i = 0; i < m; i++)
        {
            var ai = a.Slice(i * k, k);
            for (int j = i < rows ? cols : 0; j < n; j++)
            {
                c[i * n + j] += Dot(ai, b.Slice(j * k, k));
            }
        }
    }

    private static unsafe float Tail(float* x, float* y, int from, int to)
    {
        float s = 0;
        for (int p = from; p < to; p++)
        {
            s += x[p] * y[p];
        }

        return s;
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
