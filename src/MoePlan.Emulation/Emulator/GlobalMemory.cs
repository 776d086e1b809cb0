namespace MoePlan.Emulation.Emulator;

/// <summary>Global memory (HBM) behind an on-chip L2. Tensors are allocated by the host; kernel traffic
/// through the cores' GM ports is counted here. An atomic add counts its source bytes once as written
/// (the read-modify-write happens at the memory side, not through the core).
/// <para>L2 model (when <see cref="DeviceSpec.L2BytesPerCycle"/> is set): row granularity. A row of a
/// GM tensor becomes resident when a kernel reads or writes it; a read of rows that are all resident
/// is a hit. Host uploads are not resident (the first kernel read of an input comes from HBM). Writes
/// allocate (write-back); the eventual write-back of dirty rows to HBM is not charged to any core.
/// With <see cref="DeviceSpec.L2Bytes"/> set, whole tensors are evicted least recently used.</para>
/// </summary>
public sealed class GlobalMemory
{
    private readonly DeviceSpec? _spec;
    private readonly LinkedList<Tensor> _lru = new();
    private int _count;

    public GlobalMemory()
    {
    }

    public GlobalMemory(DeviceSpec spec) => _spec = spec;

    public long BytesRead { get; internal set; }
    public long BytesWritten { get; internal set; }
    public long BytesMoved => BytesRead + BytesWritten;

    /// <summary>Bytes read that hit the L2.</summary>
    public long L2HitBytes { get; private set; }

    /// <summary>Bytes read from HBM (L2 misses, or every read without an L2).</summary>
    public long HbmBytesRead => BytesRead - L2HitBytes;

    /// <summary>Bytes resident in L2 now and at the peak.</summary>
    public long L2ResidentBytes { get; private set; }
    public long L2PeakResidentBytes { get; private set; }

    internal bool HasL2 => _spec?.L2BytesPerCycle is not null;

    public Tensor Allocate(string name, int rows, int cols, ElementType type)
    {
        _count++;
        return new Tensor($"GM.{name}#{_count}", rows, cols, type, MemoryLocation.Gm, owner: null);
    }

    /// <summary>A kernel read of rows [row, row + rows) of <paramref name="t"/>: true when all were
    /// resident (a hit, counted in <see cref="L2HitBytes"/>); the rows are resident afterwards.</summary>
    internal bool Read(Tensor t, int row, int rows, long bytes)
    {
        BytesRead += bytes;
        if (!HasL2)
        {
            return false;
        }

        bool hit = t.L2Resident(row, rows);
        if (hit)
        {
            L2HitBytes += bytes;
        }

        Touch(t, row, rows);
        return hit;
    }

    /// <summary>A kernel write (store or atomic) of rows [row, row + rows): they become resident.</summary>
    internal void Write(Tensor t, int row, int rows, long bytes)
    {
        BytesWritten += bytes;
        if (HasL2)
        {
            Touch(t, row, rows);
        }
    }

    private void Touch(Tensor t, int row, int rows)
    {
        L2ResidentBytes += t.MarkL2Resident(row, rows) * t.RowBytes;
        if (t.LruNode is { } node)
        {
            _lru.Remove(node);
            _lru.AddFirst(node);
        }
        else
        {
            t.LruNode = _lru.AddFirst(t);
        }

        if (_spec?.L2Bytes is { } capacity)
        {
            while (L2ResidentBytes > capacity && _lru.Last is { } last && !ReferenceEquals(last.Value, t))
            {
                L2ResidentBytes -= last.Value.EvictL2() * last.Value.RowBytes;
                last.Value.LruNode = null;
                _lru.RemoveLast();
            }
        }

        L2PeakResidentBytes = Math.Max(L2PeakResidentBytes, L2ResidentBytes);
    }
}
