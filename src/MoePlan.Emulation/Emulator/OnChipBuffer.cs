namespace MoePlan.Emulation.Emulator;

/// <summary>An on-chip buffer (L1, L0A, L0B, L0C or a UB) with a byte capacity. Tiles are carved out
/// of it; a tile that does not fit throws <see cref="BufferCapacityExceededException"/>.</summary>
public sealed class OnChipBuffer
{
    internal OnChipBuffer(string name, MemoryLocation location, long capacityBytes)
    {
        Name = name;
        Location = location;
        CapacityBytes = capacityBytes;
    }

    public string Name { get; }
    public MemoryLocation Location { get; }
    public long CapacityBytes { get; }
    public long InUseBytes { get; private set; }
    public long PeakBytes { get; private set; }

    public Tensor Allocate(string name, int rows, int cols, ElementType type)
    {
        long bytes = (long)rows * cols * Tensor.ElementSize(type);
        if (InUseBytes + bytes > CapacityBytes)
        {
            throw new BufferCapacityExceededException(Name, bytes, InUseBytes, CapacityBytes);
        }

        var tensor = new Tensor($"{Name}.{name}", rows, cols, type, Location, this);
        InUseBytes += bytes;
        PeakBytes = Math.Max(PeakBytes, InUseBytes);
        return tensor;
    }

    public void Release(Tensor tensor)
    {
        if (!ReferenceEquals(tensor.Owner, this) || tensor.Released)
        {
            throw new InvalidOperationException($"Tensor {tensor.Name} is not a live tile of {Name}.");
        }

        tensor.Released = true;
        InUseBytes -= tensor.AllocatedBytes;
    }
}
