namespace MoePlan.Emulation.Emulator;

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

    internal void WaitUntil(double cycle) => FreeAt = Math.Max(FreeAt, cycle);

    internal double Schedule(double occupancy, double latency, ReadOnlySpan<TensorRows> inputs, ReadOnlySpan<TensorRows> outputs, BandwidthPipe? pipe = null)
    {
        double start = FreeAt;
        foreach (var t in inputs)
        {
            start = Math.Max(start, t.Tensor.ReadConstraint(t.Row, t.Count));
        }

        foreach (var t in outputs)
        {
            // Write after write: an in-order queue that wrote the rows last only has to issue after
            // its previous write (queues keep order); any other unit waits for that write to land.
            start = Math.Max(start, t.Tensor.WriteConstraint(t.Row, t.Count, this));
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
            t.Tensor.MarkRead(t.Row, t.Count, end);
        }

        foreach (var t in outputs)
        {
            t.Tensor.MarkWritten(t.Row, t.Count, end, ready, this);
        }

        return ready;
    }
}
