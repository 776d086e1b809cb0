namespace MoePlan.Runtime.Emulator;

/// <summary>Global memory (HBM). Tensors are allocated by the host; kernel traffic through the cores'
/// GM ports is counted here. An atomic add counts its source bytes once as written (the
/// read-modify-write happens at the memory side, not through the core).</summary>
public sealed class GlobalMemory
{
    private int _count;

    public long BytesRead { get; internal set; }
    public long BytesWritten { get; internal set; }
    public long BytesMoved => BytesRead + BytesWritten;

    public Tensor Allocate(string name, int rows, int cols, ElementType type)
    {
        _count++;
        return new Tensor($"GM.{name}#{_count}", rows, cols, type, MemoryLocation.Gm, owner: null);
    }
}
