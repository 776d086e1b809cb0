using MoePlan.Emulation.Emulator;

namespace MoePlan.Emulation.Kernels;

/// <summary>
/// Hierarchical tiling of the decode kernel on one AI core. A work item is one sequence and a group of
/// up to 128 query heads. L1 holds the group's Q tile (rows x 576 BF16) for the whole KV sweep, a ring
/// of 3 KV blocks (the preload pipeline keeps block k+1 and k in flight while block k+2 loads) and 2 P
/// blocks; L0A/L0B hold double-buffered 128-wide operand slices; L0C holds two FP32 result tiles.
/// </summary>
public sealed record MlaTiling(int RowsPerGroup, int BlockKv, int KChunk, int VChunk)
{
    public const int KvRing = 3;
    public const int PRing = 2;
    public const int MaxRows = 128;
    public const int MaxBlockKv = 128;
    public const int Chunk = 128;

    /// <summary>The largest KV block (a multiple of the Cube fractal, at most 128) whose L1 footprint
    /// Q + 3 KV blocks + 2 P blocks fits L1.</summary>
    public static MlaTiling For(DeviceSpec spec, int heads)
    {
        int rows = Math.Min(heads, MaxRows);
        long q = (long)rows * MlaDims.QkDim * 2;
        long perKvRow = KvRing * MlaDims.QkDim * 2 + PRing * rows * 2;
        long fit = (spec.L1Bytes - q) / perKvRow;
        int block = (int)Math.Min(MaxBlockKv, fit / spec.CubeFractal * spec.CubeFractal);
        if (block <= 0)
        {
            throw new BufferCapacityExceededException(spec.Name + " L1", q + perKvRow * spec.CubeFractal, 0, spec.L1Bytes);
        }

        return new MlaTiling(rows, block, Chunk, Chunk);
    }
}
