namespace MoePlan.Runtime.Emulator;

/// <summary>One in-order hardware unit (Cube, a Vector unit, MTE1, the GM port) with its own
/// timeline: an operation starts at max(unit free, inputs ready, outputs free) and occupies the unit
/// for its occupancy; its results are ready after an extra latency. A transfer queue also reserves its
/// occupancy on a shared <see cref="BandwidthPipe"/>.</summary>
public sealed class ExecutionUnit
{
    internal ExecutionUnit(string name) => Name = name;

    public string Name { get; }

    /// <summary>Cycle at which the unit can start its next operation.</summary>
    public double FreeAt { get; private set; }

    /// <summary>Cycles the unit spent occupied.</summary>
    public double BusyCycles { get; private set; }

    public long Operations { get; private set; }

    internal double Schedule(double occupancy, double latency, ReadOnlySpan<Tensor> inputs, ReadOnlySpan<Tensor> outputs, BandwidthPipe? pipe = null)
    {
        double start = FreeAt;
        foreach (var t in inputs)
        {
            start = Math.Max(start, t.ReadyAt);
        }

        foreach (var t in outputs)
        {
            // Write after write: an in-order queue that wrote the tensor last only has to issue after
            // its previous write (queues keep order); any other unit waits for that write to land.
            double previousWrite = ReferenceEquals(t.LastWriter, this) ? t.WriteIssuedAt : t.ReadyAt;
            start = Math.Max(start, Math.Max(previousWrite, t.ReadsDoneAt));
        }

        if (pipe is not null)
        {
            start = pipe.Reserve(start, occupancy);
        }

        double end = start + occupancy;
        FreeAt = end;
        BusyCycles += occupancy;
        Operations++;
        double ready = end + latency;
        foreach (var t in inputs)
        {
            t.ReadsDoneAt = Math.Max(t.ReadsDoneAt, end);
        }

        foreach (var t in outputs)
        {
            t.ReadyAt = ready;
            t.WriteIssuedAt = end;
            t.LastWriter = this;
        }

        return ready;
    }
}
