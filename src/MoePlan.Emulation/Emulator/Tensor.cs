namespace MoePlan.Emulation.Emulator;

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
/// the timing state the model needs: when its last write is complete, when that write was issued and
/// by which unit, and when the last read of it has consumed it (so a later overwrite waits). On-chip
/// tiles keep one such state; GM tensors keep one per row, so that units writing disjoint rows of
/// one GM tensor do not wait for each other.
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
        AllocatedRows = rows;
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

    /// <summary>Rows at allocation; a GM tensor may not be reshaped to more rows (its timing is per row).</summary>
    public int AllocatedRows { get; }
    public ElementType Type { get; }
    public MemoryLocation Location { get; }
    internal OnChipBuffer? Owner { get; }
    internal float[] Data { get; }
    internal bool Released { get; set; }

    private double[]? _ready, _readsDone, _writeIssued;
    private bool[]? _l2;

    internal LinkedListNode<Tensor>? LruNode { get; set; }

    /// <summary>Bytes of one row at allocation.</summary>
    internal long RowBytes => AllocatedBytes / AllocatedRows;

    internal bool L2Resident(int row, int rows)
    {
        if (_l2 is null)
        {
            return false;
        }

        for (int i = row; i < row + rows; i++)
        {
            if (!_l2[i])
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>Marks rows resident; returns how many were not resident before.</summary>
    internal int MarkL2Resident(int row, int rows)
    {
        _l2 ??= new bool[AllocatedRows];
        int added = 0;
        for (int i = row; i < row + rows; i++)
        {
            if (!_l2[i])
            {
                _l2[i] = true;
                added++;
            }
        }

        return added;
    }

    /// <summary>Evicts every resident row; returns how many there were.</summary>
    internal int EvictL2()
    {
        int n = _l2?.Count(x => x) ?? 0;
        _l2 = null;
        return n;
    }
    private ExecutionUnit?[]? _writer;

    private void EnsureTiming()
    {
        if (_ready is null)
        {
            int slots = Location == MemoryLocation.Gm ? AllocatedRows : 1;
            _ready = new double[slots];
            _readsDone = new double[slots];
            _writeIssued = new double[slots];
            _writer = new ExecutionUnit?[slots];
        }
    }

    private (int First, int End) Slots(int row, int rows) =>
        Location == MemoryLocation.Gm ? (row, row + rows) : (0, 1);

    /// <summary>Earliest start for reading rows [row, row + rows): their last writes have landed.</summary>
    internal double ReadConstraint(int row, int rows)
    {
        EnsureTiming();
        var (first, end) = Slots(row, rows);
        double t = 0;
        for (int i = first; i < end; i++)
        {
            t = Math.Max(t, _ready![i]);
        }

        return t;
    }

    /// <summary>Earliest start for writing rows [row, row + rows) from <paramref name="unit"/>: previous
    /// reads are done, and previous writes have landed (or, from the same in-order unit, were issued).</summary>
    internal double WriteConstraint(int row, int rows, ExecutionUnit unit)
    {
        EnsureTiming();
        var (first, end) = Slots(row, rows);
        double t = 0;
        for (int i = first; i < end; i++)
        {
            double previousWrite = ReferenceEquals(_writer![i], unit) ? _writeIssued![i] : _ready![i];
            t = Math.Max(t, Math.Max(previousWrite, _readsDone![i]));
        }

        return t;
    }

    internal void MarkRead(int row, int rows, double end)
    {
        EnsureTiming();
        var (first, last) = Slots(row, rows);
        for (int i = first; i < last; i++)
        {
            _readsDone![i] = Math.Max(_readsDone[i], end);
        }
    }

    internal void MarkWritten(int row, int rows, double issuedEnd, double ready, ExecutionUnit unit)
    {
        EnsureTiming();
        var (first, last) = Slots(row, rows);
        for (int i = first; i < last; i++)
        {
            _ready![i] = ready;
            _writeIssued![i] = issuedEnd;
            _writer![i] = unit;
        }
    }

    public static implicit operator TensorRows(Tensor tensor) => new(tensor, 0, tensor.Rows);

    public static int ElementSize(ElementType type) => type == ElementType.Bf16 ? 2 : 4;

    /// <summary>Bytes of the current shape.</summary>
    public long Bytes => (long)Rows * Cols * ElementSize(Type);

    /// <summary>Bytes allocated (the shape at allocation).</summary>
    public long AllocatedBytes => (long)CapacityElements * ElementSize(Type);

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
        if ((long)rows * cols > CapacityElements || (Location == MemoryLocation.Gm && rows > AllocatedRows))
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

/// <summary>Rows [Row, Row + Count) of a tensor, as an operand of the timing model.</summary>
public readonly record struct TensorRows(Tensor Tensor, int Row, int Count);
