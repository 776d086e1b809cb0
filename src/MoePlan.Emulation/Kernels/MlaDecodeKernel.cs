using System.Diagnostics.CodeAnalysis;
using MoePlan.Emulation.Emulator;

namespace MoePlan.Emulation.Kernels;

/// <summary>
/// Absorbed-MLA decode attention on the emulator, in the two variants of <see cref="AttentionVariant"/>.
/// <para>One round per KV block j has four stages: mm1 (S = Q K^T on the Cube, stored to GM), vec1
/// (softmax statistics and P on the Vector units), mm2 (P V on the Cube), vec2 (update O; Standard
/// only). The preload pipeline issues loop i as mm1(i), vec1(i-1), mm2(i-1), vec2(i-2), so the Cube
/// computes mm1 of block i while the Vector units do the softmax of block i-1.</para>
/// <para>Numerics: Q and KV are BF16, P is rounded to BF16 before mm2, everything else is FP32.</para>
/// <para>AMLA keeps an integer reference exponent n = ceil(max_t (s_t log2 e)) per row and computes
/// P = 2^(s log2 e - n), so P is in (0, 1] and the largest P of the block that set n is in (1/2, 1].
/// When n grows by d the rows' O is multiplied by 2^-d in place in GM by an int32 atomic add of
/// -d &lt;&lt; 23 to its bits (only rows whose n changed are touched); P V is added by FP32 atomic add.
/// The rescale of block j is issued after mm2(j-1)'s atomic add and before mm2(j)'s (the emulator
/// orders writes to the same tensor), because the integer and the float adds do not commute.</para>
/// <para>Defined behaviour for special values (both variants, matching the FP64 reference's IEEE
/// semantics): a row whose scores contain NaN or +Inf gives an all-NaN output row; a -Inf score is a
/// zero weight (a mask); a row whose scores are all -Inf gives NaN (0/0); Inf/NaN in V propagate through
/// P V as IEEE arithmetic does. AMLA only: O entries that are zero or subnormal when rescaled, or that
/// underflow, become signed zero (flush to zero); a row with a finite |max score| * log2 e &gt; 2^24
/// (far outside any attention workload) gives NaN, as its reference exponent would not be exact in FP32.</para>
/// </summary>
public static class MlaDecodeKernel
{
    private const float Log2E = 1.4426950408889634f;
    private const float Ln2 = 0.6931471805599453f;
    private const float MaxExactExponent = 16_777_216f; // 2^24

    /// <summary>
    /// Runs the kernel on <paramref name="device"/>; returns the output [(b * heads + h) * 512 + c] in
    /// FP32. Work items (sequence, head group, KV split) go round-robin to the die's AI cores.
    /// <para>Split-K (flash-decoding): when there are fewer (sequence, head group) items than cores,
    /// the KV range of each is cut into <paramref name="kvSplits"/> contiguous runs of whole blocks
    /// (null = <see cref="ChooseKvSplits"/>). Each split normalises its partial output by its own sum
    /// and stores the row's log-sum-exp (Standard: m + ln l; AMLA: n ln 2 + ln l); a combine pass on
    /// the Vector units then forms out = sum_s w_s O_s with w_s = exp(lse_s - max lse) / sum exp(...).
    /// A split whose row saw only -Inf scores has lse = -Inf and weight 0; a row whose every split is
    /// -Inf, or any split NaN, gives NaN, as the unsplit kernel does.</para>
    /// </summary>
    public static float[] Execute(Device device, MlaDecodeInputs inputs, AttentionVariant variant, MlaTiling? tiling = null, int? kvSplits = null)
    {
        tiling ??= MlaTiling.For(device.Spec, inputs.Heads);
        var gm = device.Gm;
        var q = gm.Allocate("q", inputs.Batch * inputs.Heads, MlaDims.QkDim, ElementType.Bf16);
        var kv = gm.Allocate("kv", inputs.Batch * inputs.KvLen, MlaDims.QkDim, ElementType.Bf16);
        q.Upload(inputs.Query);
        kv.Upload(inputs.KvCache);

        var result = new float[inputs.Batch * inputs.Heads * MlaDims.VDim];
        int groups = (inputs.Heads + tiling.RowsPerGroup - 1) / tiling.RowsPerGroup;
        var (splits, splitRows) = ResolveKvSplits(device.Spec, tiling, inputs.Heads, inputs.Batch, inputs.KvLen, kvSplits);

        // One output tensor per (sequence, head group): the emulator tracks dependencies per tensor
        // row, and items on different cores write disjoint tensors.
        int item = 0;
        var outputs = new List<(Tensor Tensor, int Offset)>();
        var pending = new List<(Tensor Output, Tensor[] Parts, Tensor[] Lses, int Rows)>();
        for (int b = 0; b < inputs.Batch; b++)
        {
            for (int g = 0; g < groups; g++)
            {
                int h0 = g * tiling.RowsPerGroup;
                int rows = Math.Min(tiling.RowsPerGroup, inputs.Heads - h0);
                var output = gm.Allocate($"out.b{b}h{h0}", rows, MlaDims.VDim, ElementType.Fp32);
                outputs.Add((output, (b * inputs.Heads + h0) * MlaDims.VDim));
                if (splits == 1)
                {
                    var core = device.Cores[item++ % device.Cores.Count];
                    new WorkItem(core, variant, tiling, inputs, q, kv, output, null, b, h0, rows, 0, inputs.KvLen).Run();
                    continue;
                }

                var parts = new Tensor[splits];
                var lses = new Tensor[splits];
                for (int s = 0; s < splits; s++)
                {
                    int t0 = s * splitRows;
                    parts[s] = gm.Allocate($"part.b{b}h{h0}s{s}", rows, MlaDims.VDim, ElementType.Fp32);
                    lses[s] = gm.Allocate($"lse.b{b}h{h0}s{s}", rows, 1, ElementType.Fp32);
                    var core = device.Cores[item++ % device.Cores.Count];
                    new WorkItem(core, variant, tiling, inputs, q, kv, parts[s], lses[s], b, h0, rows, t0, Math.Min(splitRows, inputs.KvLen - t0)).Run();
                }

                pending.Add((output, parts, lses, rows));
            }
        }

        // Combine pass: each (sequence, head group) is cut into row slices of at least 16 rows so
        // that the combines spread over the cores; continues the round-robin.
        if (pending.Count > 0)
        {
            int slicesPerItem = Math.Max(1, (device.Cores.Count + pending.Count - 1) / pending.Count);
            foreach (var (output, parts, lses, rows) in pending)
            {
                int sliceRows = Math.Max(Math.Min(16, rows), (rows + slicesPerItem - 1) / slicesPerItem);
                for (int r0 = 0; r0 < rows; r0 += sliceRows)
                {
                    Combine(device.Cores[item++ % device.Cores.Count], output, parts, lses, r0, Math.Min(sliceRows, rows - r0));
                }
            }
        }

        foreach (var (tensor, offset) in outputs)
        {
            tensor.Values.CopyTo(result.AsSpan(offset));
        }

        return result;
    }

    /// <summary>The KV splits Execute uses and the KV rows per split (all but the last split; a
    /// whole number of blocks): <paramref name="requested"/> (null = <see cref="ChooseKvSplits"/>),
    /// clamped to [1, blocks] and reduced so that no split is empty.</summary>
    public static (int Splits, int RowsPerSplit) ResolveKvSplits(DeviceSpec spec, MlaTiling tiling, int heads, int batch, int kvLen, int? requested)
    {
        int groups = (heads + tiling.RowsPerGroup - 1) / tiling.RowsPerGroup;
        int blocks = (kvLen + tiling.BlockKv - 1) / tiling.BlockKv;
        int splits = Math.Clamp(requested ?? ChooseKvSplits(spec.AiCores, batch * groups, blocks), 1, blocks);
        int blocksPerSplit = (blocks + splits - 1) / splits;
        return ((blocks + blocksPerSplit - 1) / blocksPerSplit, blocksPerSplit * tiling.BlockKv);
    }

    /// <summary>Estimated KV-block steps of one core when each of <paramref name="items"/> (sequence,
    /// head group) items is cut into s splits: waves ceil(items s / cores) times (blocks per split +
    /// 2), the 2 being the preload pipeline's fill and drain (vec2 trails mm1 by two blocks). The
    /// split count with the fewest steps wins (ties: fewer splits); the combine is not counted.</summary>
    public static int ChooseKvSplits(int cores, int items, int blocks)
    {
        int best = 1;
        long bestSteps = long.MaxValue;
        for (int s = 1; s <= blocks; s++)
        {
            long per = (blocks + s - 1) / s;
            long waves = ((long)items * s + cores - 1) / cores;
            long steps = waves * (per + 2);
            if (steps < bestSteps)
            {
                bestSteps = steps;
                best = s;
            }
        }

        return best;
    }

    /// <summary>The flash-decoding combine of rows [first, first + rows) of one (sequence, head
    /// group) on the Vector units of <paramref name="core"/>, the rows split between the units.</summary>
    private static void Combine(AiCore core, Tensor output, Tensor[] parts, Tensor[] lses, int first, int rows)
    {
        core.Barrier();
        int splits = parts.Length;
        int units = core.Spec.VectorUnitsPerCore;
        int per = (rows + units - 1) / units;
        for (int v = 0; v < units && v * per < rows; v++)
        {
            int row0 = first + v * per, n = Math.Min(per, rows - v * per);
            var ub = core.Ub[v];
            var all = new List<Tensor>();
            Tensor Alloc(string name, int r, int c)
            {
                var t = ub.Allocate(name, r, c, ElementType.Fp32);
                all.Add(t);
                return t;
            }

            var lse = Enumerable.Range(0, splits).Select(s => Alloc($"lse{s}", n, 1)).ToArray();
            var w = Enumerable.Range(0, splits).Select(s => Alloc($"w{s}", n, 1)).ToArray();
            var acc = new[] { Alloc("acc0", n, MlaTiling.Chunk), Alloc("acc1", n, MlaTiling.Chunk) };
            var tmp = new[] { Alloc("tmp0", n, MlaTiling.Chunk), Alloc("tmp1", n, MlaTiling.Chunk) };
            for (int s = 0; s < splits; s++)
            {
                core.Load(lse[s], lses[s], row0, 0);
            }

            // max, S exp, sum, reciprocal, S multiplies.
            core.VRowProgram(v, 2 * splits + 3, lse, w, () =>
            {
                for (int r = 0; r < n; r++)
                {
                    float max = float.NegativeInfinity;
                    bool nan = false;
                    for (int s = 0; s < splits; s++)
                    {
                        float x = lse[s].Data[r];
                        nan |= float.IsNaN(x);
                        max = Math.Max(max, x);
                    }

                    if (nan || float.IsNegativeInfinity(max))
                    {
                        for (int s = 0; s < splits; s++)
                        {
                            w[s].Data[r] = float.NaN;
                        }

                        continue;
                    }

                    float sum = 0;
                    for (int s = 0; s < splits; s++)
                    {
                        w[s].Data[r] = MathF.Exp(lse[s].Data[r] - max);
                        sum += w[s].Data[r];
                    }

                    float inv = 1f / sum;
                    for (int s = 0; s < splits; s++)
                    {
                        w[s].Data[r] *= inv;
                    }
                }
            });

            for (int c0 = 0, k = 0; c0 < MlaDims.VDim; c0 += MlaTiling.Chunk, k++)
            {
                int cw = Math.Min(MlaTiling.Chunk, MlaDims.VDim - c0);
                var a = acc[k % 2];
                a.SetShape(n, cw);
                core.Load(a, parts[0], row0, c0);
                core.VMulRows(v, a, w[0]);
                for (int s = 1; s < splits; s++)
                {
                    var t = tmp[s % 2];
                    t.SetShape(n, cw);
                    core.Load(t, parts[s], row0, c0);
                    core.VMulRows(v, t, w[s]);
                    core.VAdd(v, a, t);
                }

                core.Store(output, row0, c0, a);
            }

            foreach (var t in all)
            {
                ub.Release(t);
            }
        }
    }

    private sealed class WorkItem
    {
        private readonly AiCore _core;
        private readonly AttentionVariant _variant;
        private readonly MlaTiling _t;
        private readonly MlaDecodeInputs _in;
        private readonly Tensor _q, _kv, _out;
        private readonly Tensor? _lse;
        private readonly int _batch, _h0, _rows, _blocks, _t0, _kvRows;

        // Cube side
        private Tensor _qL1;
        private readonly Tensor[] _kvL1 = new Tensor[MlaTiling.KvRing];
        private readonly Tensor[] _pL1 = new Tensor[MlaTiling.PRing];
        private readonly Tensor[] _l0a = new Tensor[2], _l0b = new Tensor[2], _l0c = new Tensor[2];
        private int _nextA, _nextB, _nextC;

        // GM workspace
        // O and the P V workspace are kept as one GM tensor per 128-column chunk so that the
        // dependency tracking (per tensor) sees chunks as independent.
        private readonly Tensor[] _sGm = new Tensor[2], _pGm = new Tensor[2];
        private readonly Tensor[][] _pvGm = new Tensor[2][];
        private Tensor[] _o = [];

        private Lane[] _lanes = [];

        public WorkItem(AiCore core, AttentionVariant variant, MlaTiling tiling, MlaDecodeInputs inputs,
            Tensor q, Tensor kv, Tensor output, Tensor? lse, int batch, int h0, int rows, int t0, int kvRows)
        {
            _core = core;
            _variant = variant;
            _t = tiling;
            _in = inputs;
            _q = q;
            _kv = kv;
            _out = output;
            _lse = lse;
            _t0 = t0;
            _kvRows = kvRows;
            _batch = batch;
            _h0 = h0;
            _rows = rows;
            _blocks = (kvRows + tiling.BlockKv - 1) / tiling.BlockKv;
            Allocate();
        }

        private int BlockLen(int j) => Math.Min(_t.BlockKv, _kvRows - j * _t.BlockKv);

        public void Run()
        {
            _core.Barrier(); // the previous work item on this core used the same on-chip memory
            _core.Load(_qL1, _q, _batch * _in.Heads + _h0, 0);
            for (int i = 0; i <= _blocks + 1; i++)
            {
                if (i < _blocks)
                {
                    Mm1(i);
                }

                if (i >= 1 && i <= _blocks)
                {
                    foreach (var lane in _lanes)
                    {
                        Vec1(lane, i - 1);
                    }

                    Mm2(i - 1);
                }

                if (_variant == AttentionVariant.Standard && i >= 3 && i - 2 < _blocks)
                {
                    foreach (var lane in _lanes)
                    {
                        Vec2(lane, i - 2);
                    }
                }
            }

            foreach (var lane in _lanes)
            {
                Normalize(lane);
            }

            Release();
        }

        // ------------------------------------------------------------ cube stages

        private void Mm1(int j)
        {
            int bk = BlockLen(j);
            var kvTile = _kvL1[j % MlaTiling.KvRing];
            kvTile.SetShape(bk, MlaDims.QkDim);
            _core.Load(kvTile, _kv, _batch * _in.KvLen + _t0 + j * _t.BlockKv, 0);
            var s = NextC(_rows, bk);
            for (int k0 = 0; k0 < MlaDims.QkDim; k0 += _t.KChunk)
            {
                int kw = Math.Min(_t.KChunk, MlaDims.QkDim - k0);
                var a = NextA(_rows, kw);
                _core.LoadL0(a, _qL1, 0, k0);
                var b = NextB(bk, kw);
                _core.LoadL0(b, kvTile, 0, k0);
                _core.Mmad(s, a, b, transposeB: true, accumulate: k0 > 0);
            }

            var sGm = _sGm[j % 2];
            sGm.SetShape(_rows, bk);
            _core.Store(sGm, 0, 0, s);
        }

        private void Mm2(int j)
        {
            int bk = BlockLen(j);
            var kvTile = _kvL1[j % MlaTiling.KvRing];
            var pL1 = _pL1[j % MlaTiling.PRing];
            pL1.SetShape(_rows, bk);
            _core.Load(pL1, _pGm[j % 2], 0, 0);
            var a = NextA(_rows, bk);
            _core.LoadL0(a, pL1, 0, 0);
            for (int c0 = 0; c0 < MlaDims.VDim; c0 += _t.VChunk)
            {
                int cw = Math.Min(_t.VChunk, MlaDims.VDim - c0);
                var b = NextB(bk, cw);
                _core.LoadL0(b, kvTile, 0, c0);
                var pv = NextC(_rows, cw);
                _core.Mmad(pv, a, b, transposeB: false, accumulate: false);
                if (j == 0)
                {
                    _core.Store(_o[c0 / _t.VChunk], 0, 0, pv);
                }
                else if (_variant == AttentionVariant.Standard)
                {
                    _core.Store(_pvGm[j % 2][c0 / _t.VChunk], 0, 0, pv);
                }
                else
                {
                    _core.AtomicAdd(_o[c0 / _t.VChunk], 0, 0, pv);
                }
            }
        }

        private Tensor NextA(int rows, int cols) => Shaped(_l0a[_nextA++ % 2], rows, cols);
        private Tensor NextB(int rows, int cols) => Shaped(_l0b[_nextB++ % 2], rows, cols);
        private Tensor NextC(int rows, int cols) => Shaped(_l0c[_nextC++ % 2], rows, cols);

        private static Tensor Shaped(Tensor t, int rows, int cols)
        {
            t.SetShape(rows, cols);
            return t;
        }

        // ------------------------------------------------------------ vector stages

        private void Vec1(Lane l, int j)
        {
            int v = l.Unit, bk = BlockLen(j);
            l.S.SetShape(l.Rows, bk);
            _core.Load(l.S, _sGm[j % 2], l.Row0, 0);
            bool amla = _variant == AttentionVariant.Amla;
            _core.VMuls(v, l.S, amla ? _in.SoftmaxScale * Log2E : _in.SoftmaxScale);
            _core.VRowMax(v, l.BlockMax, l.S);
            var fac = l.Factor[j % 2];
            if (amla)
            {
                _core.VRowProgram(v, 4, [l.BlockMax, l.RunMax, l.Poison], [l.RunMax, l.Sub, l.Shift, l.IncRows, l.Poison], () => AmlaStats(l));
            }
            else
            {
                _core.VRowProgram(v, 4, [l.BlockMax, l.RunMax, l.Poison], [l.RunMax, l.Sub, fac, l.Poison], () => StandardStats(l, fac));
            }

            _core.VSubRows(v, l.S, l.Sub);
            if (amla)
            {
                _core.VMuls(v, l.S, Ln2);
            }

            _core.VExp(v, l.S);
            _core.VCastToBf16(v, l.P, l.S);
            _core.VRowSum(v, l.BlockSum, l.P);
            if (amla)
            {
                _core.VRowProgram(v, 2, [l.Sum, l.Shift, l.BlockSum], [l.Sum], () =>
                {
                    for (int r = 0; r < l.Rows; r++)
                    {
                        l.Sum.Data[r] = MathF.ScaleB(l.Sum.Data[r], (int)l.Shift.Data[r]) + l.BlockSum.Data[r];
                    }
                });
            }
            else
            {
                _core.VRowProgram(v, 2, [l.Sum, fac, l.BlockSum], [l.Sum], () =>
                {
                    for (int r = 0; r < l.Rows; r++)
                    {
                        l.Sum.Data[r] = l.Sum.Data[r] * fac.Data[r] + l.BlockSum.Data[r];
                    }
                });
            }

            _core.Store(_pGm[j % 2], l.Row0, 0, l.P);
            if (amla && j > 0)
            {
                RescaleInPlace(l);
            }
        }

        private static void StandardStats(Lane l, Tensor fac)
        {
            for (int r = 0; r < l.Rows; r++)
            {
                float bm = l.BlockMax.Data[r];
                float mOld = l.RunMax.Data[r];
                bool poison = l.Poison.Data[r] != 0 || float.IsNaN(bm) || float.IsPositiveInfinity(bm);
                l.Poison.Data[r] = poison ? 1 : 0;
                if (poison)
                {
                    l.Sub.Data[r] = 0;
                    fac.Data[r] = 1;
                    continue;
                }

                float mNew = Math.Max(mOld, bm);
                l.RunMax.Data[r] = mNew;
                l.Sub.Data[r] = float.IsNegativeInfinity(mNew) ? 0 : mNew;
                fac.Data[r] = mOld == mNew ? 1 : MathF.Exp(mOld - mNew);
            }
        }

        private static void AmlaStats(Lane l)
        {
            for (int r = 0; r < l.Rows; r++)
            {
                float bm = l.BlockMax.Data[r];
                float nOld = l.RunMax.Data[r]; // -Inf = no finite score seen yet
                bool poison = l.Poison.Data[r] != 0 || float.IsNaN(bm) || float.IsPositiveInfinity(bm)
                    || (float.IsFinite(bm) && Math.Abs(bm) > MaxExactExponent);
                l.Poison.Data[r] = poison ? 1 : 0;
                float nNew = nOld, shift = 0;
                if (!poison && float.IsFinite(bm))
                {
                    float c = MathF.Ceiling(bm);
                    nNew = float.IsNegativeInfinity(nOld) ? c : Math.Max(nOld, c);
                    shift = float.IsNegativeInfinity(nOld) ? 0 : nOld - nNew;
                }

                l.RunMax.Data[r] = nNew;
                l.Sub.Data[r] = float.IsNegativeInfinity(nNew) ? 0 : nNew;
                l.Shift.Data[r] = shift;
                l.IncRows.Data[r] = BitConverter.Int32BitsToSingle(FloatBits.ExponentIncrement((long)shift));
            }
        }

        /// <summary>AMLA: O[rows with shift != 0] *= 2^shift in GM, as int32 atomic adds of the
        /// broadcast increments; one atomic per contiguous run of changed rows and 128-column chunk.</summary>
        private void RescaleInPlace(Lane l)
        {
            var inc = l.Inc ?? throw new InvalidOperationException("AMLA lanes allocate the increment tile.");
            int r = 0;
            while (r < l.Rows)
            {
                if (l.Shift.Data[r] == 0)
                {
                    r++;
                    continue;
                }

                int start = r;
                while (r < l.Rows && l.Shift.Data[r] != 0)
                {
                    r++;
                }

                int run = r - start;
                for (int c0 = 0; c0 < MlaDims.VDim; c0 += _t.VChunk)
                {
                    int cw = Math.Min(_t.VChunk, MlaDims.VDim - c0);
                    inc.SetShape(run, cw);
                    _core.VBroadcastRows(l.Unit, inc, l.IncRows, start);
                    _core.AtomicExponentAdd(_o[c0 / _t.VChunk], l.Row0 + start, 0, inc);
                }
            }
        }

        private void Vec2(Lane l, int j)
        {
            int v = l.Unit;
            var fac = l.Factor[j % 2];
            for (int c0 = 0, k = 0; c0 < MlaDims.VDim; c0 += _t.VChunk, k++)
            {
                int cw = Math.Min(_t.VChunk, MlaDims.VDim - c0);
                var o = Shaped(l.OChunk[k % 2], l.Rows, cw);
                var pv = Shaped(l.PvChunk[k % 2], l.Rows, cw);
                _core.Load(o, _o[k], l.Row0, 0);
                _core.Load(pv, _pvGm[j % 2][k], l.Row0, 0);
                _core.VMulRows(v, o, fac);
                _core.VAdd(v, o, pv);
                _core.Store(_o[k], l.Row0, 0, o);
            }
        }

        private void Normalize(Lane l)
        {
            int v = l.Unit;
            if (_lse is null)
            {
                _core.VRowProgram(v, 1, [l.Sum, l.Poison], [l.InvSum], () =>
                {
                    for (int r = 0; r < l.Rows; r++)
                    {
                        l.InvSum.Data[r] = l.Poison.Data[r] != 0 ? float.NaN : 1f / l.Sum.Data[r];
                    }
                });
            }
            else
            {
                // A split: also the row's log-sum-exp for the combine. A row with no finite score in
                // this split (sum 0) gets weight 0 via lse = -Inf and a zero partial output.
                bool amla = _variant == AttentionVariant.Amla;
                _core.VRowProgram(v, 4, [l.Sum, l.Poison, l.RunMax], [l.InvSum, l.Lse], () =>
                {
                    for (int r = 0; r < l.Rows; r++)
                    {
                        float sum = l.Sum.Data[r];
                        bool poison = l.Poison.Data[r] != 0;
                        l.InvSum.Data[r] = poison ? float.NaN : sum == 0 ? 0 : 1f / sum;
                        float reference = amla ? l.RunMax.Data[r] * Ln2 : l.RunMax.Data[r];
                        l.Lse.Data[r] = poison ? float.NaN : sum == 0 ? float.NegativeInfinity : reference + MathF.Log(sum);
                    }
                });
                _core.Store(_lse, l.Row0, 0, l.Lse);
            }

            for (int c0 = 0, k = 0; c0 < MlaDims.VDim; c0 += _t.VChunk, k++)
            {
                int cw = Math.Min(_t.VChunk, MlaDims.VDim - c0);
                var o = Shaped(l.OChunk[k % 2], l.Rows, cw);
                _core.Load(o, _o[k], l.Row0, 0);
                _core.VMulRows(v, o, l.InvSum);
                _core.Store(_out, l.Row0, c0, o);
            }
        }

        // ------------------------------------------------------------ allocation

        [MemberNotNull(nameof(_qL1))]
        private void Allocate()
        {
            int bkMax = _t.BlockKv;
            _qL1 = _core.L1.Allocate("q", _rows, MlaDims.QkDim, ElementType.Bf16);
            for (int i = 0; i < _kvL1.Length; i++)
            {
                _kvL1[i] = _core.L1.Allocate($"kv{i}", bkMax, MlaDims.QkDim, ElementType.Bf16);
            }

            for (int i = 0; i < _pL1.Length; i++)
            {
                _pL1[i] = _core.L1.Allocate($"p{i}", _rows, bkMax, ElementType.Bf16);
            }

            int aCols = Math.Max(_t.KChunk, bkMax);
            for (int i = 0; i < 2; i++)
            {
                _l0a[i] = _core.L0A.Allocate($"a{i}", _rows, aCols, ElementType.Bf16);
                _l0b[i] = _core.L0B.Allocate($"b{i}", bkMax, Math.Max(_t.KChunk, _t.VChunk), ElementType.Bf16);
                _l0c[i] = _core.L0C.Allocate($"c{i}", _rows, Math.Max(bkMax, _t.VChunk), ElementType.Fp32);
            }

            for (int i = 0; i < 2; i++)
            {
                _sGm[i] = GmWorkspace($"s{i}", _rows, bkMax, ElementType.Fp32);
                _pGm[i] = GmWorkspace($"p{i}", _rows, bkMax, ElementType.Bf16);
                if (_variant == AttentionVariant.Standard)
                {
                    _pvGm[i] = ChunkedGm($"pv{i}");
                }
            }

            _o = ChunkedGm("o");

            int units = _core.Spec.VectorUnitsPerCore;
            int per = (_rows + units - 1) / units;
            var lanes = new List<Lane>();
            for (int v = 0; v < units && v * per < _rows; v++)
            {
                lanes.Add(new Lane(_core.Ub[v], v, v * per, Math.Min(per, _rows - v * per), bkMax, _t.VChunk, _variant));
            }

            _lanes = lanes.ToArray();
        }

        private Tensor[] ChunkedGm(string name)
        {
            if (MlaDims.VDim % _t.VChunk != 0)
            {
                throw new InvalidOperationException($"VChunk {_t.VChunk} must divide {MlaDims.VDim}.");
            }

            return Enumerable.Range(0, MlaDims.VDim / _t.VChunk)
                .Select(k => GmWorkspace($"{name}.c{k}", _rows, _t.VChunk, ElementType.Fp32))
                .ToArray();
        }

        private Tensor GmWorkspace(string name, int rows, int cols, ElementType type) =>
            _core.Gm.Allocate($"b{_batch}h{_h0}.{name}", rows, cols, type);

        private void Release()
        {
            _core.L1.Release(_qL1);
            foreach (var t in _kvL1.Concat(_pL1))
            {
                _core.L1.Release(t);
            }

            for (int i = 0; i < 2; i++)
            {
                _core.L0A.Release(_l0a[i]);
                _core.L0B.Release(_l0b[i]);
                _core.L0C.Release(_l0c[i]);
            }

            foreach (var lane in _lanes)
            {
                lane.Release();
            }
        }
    }

    /// <summary>The rows of a work item handled by one Vector unit, with its UB tiles.</summary>
    private sealed class Lane
    {
        private readonly OnChipBuffer _ub;
        private readonly List<Tensor> _all = [];

        public Lane(OnChipBuffer ub, int unit, int row0, int rows, int blockKv, int chunk, AttentionVariant variant)
        {
            _ub = ub;
            Unit = unit;
            Row0 = row0;
            Rows = rows;
            S = Alloc("s", rows, blockKv, ElementType.Fp32);
            P = Alloc("p", rows, blockKv, ElementType.Bf16);
            BlockMax = Alloc("blockMax", rows, 1, ElementType.Fp32);
            RunMax = Alloc("runMax", rows, 1, ElementType.Fp32);
            Sub = Alloc("sub", rows, 1, ElementType.Fp32);
            Sum = Alloc("sum", rows, 1, ElementType.Fp32);
            BlockSum = Alloc("blockSum", rows, 1, ElementType.Fp32);
            InvSum = Alloc("invSum", rows, 1, ElementType.Fp32);
            Lse = Alloc("lse", rows, 1, ElementType.Fp32);
            Poison = Alloc("poison", rows, 1, ElementType.Fp32);
            Shift = Alloc("shift", rows, 1, ElementType.Fp32);
            IncRows = Alloc("incRows", rows, 1, ElementType.Int32);
            Factor = [Alloc("fac0", rows, 1, ElementType.Fp32), Alloc("fac1", rows, 1, ElementType.Fp32)];
            OChunk = [Alloc("o0", rows, chunk, ElementType.Fp32), Alloc("o1", rows, chunk, ElementType.Fp32)];
            PvChunk = variant == AttentionVariant.Standard
                ? [Alloc("pv0", rows, chunk, ElementType.Fp32), Alloc("pv1", rows, chunk, ElementType.Fp32)]
                : [];
            Inc = variant == AttentionVariant.Amla ? Alloc("inc", rows, chunk, ElementType.Int32) : null;
            RunMax.Active.Fill(float.NegativeInfinity);
        }

        public int Unit { get; }
        public int Row0 { get; }
        public int Rows { get; }
        public Tensor S { get; }
        public Tensor P { get; }
        public Tensor BlockMax { get; }
        public Tensor RunMax { get; }
        public Tensor Sub { get; }
        public Tensor Sum { get; }
        public Tensor BlockSum { get; }
        public Tensor InvSum { get; }
        public Tensor Lse { get; }
        public Tensor Poison { get; }
        public Tensor Shift { get; }
        public Tensor IncRows { get; }
        public Tensor[] Factor { get; }
        public Tensor[] OChunk { get; }
        public Tensor[] PvChunk { get; }
        /// <summary>AMLA only: the broadcast exponent increments of a rescale.</summary>
        public Tensor? Inc { get; }

        private Tensor Alloc(string name, int rows, int cols, ElementType type)
        {
            var t = _ub.Allocate(name, rows, cols, type);
            _all.Add(t);
            return t;
        }

        public void Release()
        {
            foreach (var t in _all)
            {
                _ub.Release(t);
            }
        }
    }
}
