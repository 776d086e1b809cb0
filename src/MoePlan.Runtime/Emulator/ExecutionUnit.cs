namespace MoePlan.Runtime.Emulator;

/// <summary>One in-order hardware unit (Cube, a Vector unit, MTE1, the GM port) with its own
/// timeline: an operation starts at max(unit free, inputs ready, outputs free) and occupies the unit
/// for its occupancy; its results are ready after an extra latency.</summary>
public sealed class ExecutionUnit
{
    internal ExecutionUnit(string name) => Name = name;

    public string Name { get; }

    /// <summary>Cycle at which the unit can start its next operation.</summary>
    public double FreeAt { get; private set; }

    /// <summary>Cycles the unit spent occupied.</summary>
    public double BusyCycles { get; private set; }

    public long Operations { get; private set; }

    internal double Schedule(double occupancy, double latency, ReadOnlySpan<Tensor> inputs, ReadOnlySpan<Tensor> outputs)
    {
        double start = FreeAt;
        foreach (var t in inputs)
        {
            start = Math.Max(start, t.ReadyAt);
        }

        foreach (var t in outputs)
        {
            start = Math.Max(start, Math.Max(t.ReadyAt, t.ReadsDoneAt));
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
        }

        return ready;
    }
}
