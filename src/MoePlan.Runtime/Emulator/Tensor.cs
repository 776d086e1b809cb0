namespace MoePlan.Runtime.Emulator;

/// <summary>Element types the emulator stores. Every element is held as a float32 on the host;
/// BF16 tensors hold values already rounded to BF16, Int32 tensors hold the integer's bit pattern.</summary>
public enum ElementType
{
    Fp32,
    Bf16,
    Int32,
}

/// <summary>Where a tensor lives.</summary>
public enum MemoryLocation
{
    Gm,
    L1,
    L0A,
    L0B,
    L0C,
    Ub,
}

/// <summary>
/// A row-major 2-D tensor in global memory or in an on-chip buffer. Besides its values it carries the
/// two times the timing model needs: when its last write is complete (<see cref="ReadyAt"/>) and when
/// the last read of it has consumed it (<see cref="ReadsDoneAt"/>, so a later overwrite waits).
/// </summary>
public sealed class Tensor
{
    internal Tensor(string name, int rows, int cols, ElementType type, MemoryLocation location, OnChipBuffer? owner)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(rows);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(cols);
        Name = name;
        Rows = rows;
        Cols = cols;
        CapacityElements = checked(rows * cols);
        Type = type;
        Location = location;
        Owner = owner;
        Data = new float[checked(rows * cols)];
    }

    public string Name { get; }
    public int Rows { get; private set; }
    public int Cols { get; private set; }

    /// <summary>Elements allocated; <see cref="SetShape"/> may use any shape up to this.</summary>
    public int CapacityElements { get; }
    public ElementType Type { get; }
    public MemoryLocation Location { get; }
    internal OnChipBuffer? Owner { get; }
    internal float[] Data { get; }
    internal bool Released { get; set; }

    internal double ReadyAt { get; set; }
    internal double ReadsDoneAt { get; set; }
    internal double WriteIssuedAt { get; set; }
    internal ExecutionUnit? LastWriter { get; set; }

    public static int ElementSize(ElementType type) => type == ElementType.Bf16 ? 2 : 4;

    public long Bytes => (long)Rows * Cols * ElementSize(Type);

    public float this[int row, int col]
    {
        get => Data[row * Cols + col];
    }

    public ReadOnlySpan<float> Values => Data.AsSpan(0, Rows * Cols);

    internal Span<float> Row(int row) => Data.AsSpan(row * Cols, Cols);

    internal Span<float> Active => Data.AsSpan(0, Rows * Cols);

    /// <summary>Uses the tile with a new (smaller or equal) shape, e.g. for the last, partial KV block.
    /// The timing state stays with the tile: it is the same memory.</summary>
    public void SetShape(int rows, int cols)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(rows);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(cols);
        if ((long)rows * cols > CapacityElements)
        {
            throw new InvalidOperationException($"Shape {rows}x{cols} exceeds the {CapacityElements} elements allocated for {Name}.");
        }

        Rows = rows;
        Cols = cols;
    }

    /// <summary>Host-side initialisation of a GM tensor (the host writes inputs before launch: not
    /// counted as kernel traffic). BF16 tensors round the values.</summary>
    public void Upload(ReadOnlySpan<float> values)
    {
        if (Location != MemoryLocation.Gm)
        {
            throw new InvalidOperationException($"Upload is for GM tensors; {Name} is in {Location}.");
        }

        if (values.Length != Rows * Cols)
        {
            throw new ArgumentException($"Expected {Rows * Cols} values for {Name}, got {values.Length}.", nameof(values));
        }

        values.CopyTo(Data);
        if (Type == ElementType.Bf16)
        {
            HostSimd.RoundToBf16(Active);
        }
    }

    /// <summary>Host-side read of a GM tensor after the kernel (not counted as kernel traffic).</summary>
    public float[] Download() => Active.ToArray();
}
