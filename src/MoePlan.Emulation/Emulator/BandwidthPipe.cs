namespace MoePlan.Emulation.Emulator;

/// <summary>
/// A shared bandwidth resource (a core's share of HBM). Transfers from independent queues reserve
/// contiguous intervals of it; a transfer takes the earliest gap at or after its ready time that is
/// long enough, so queues share the bandwidth without blocking each other in issue order.
/// </summary>
public sealed class BandwidthPipe
{
    // Disjoint busy intervals sorted by start.
    private readonly List<(double Start, double End)> _busy = [];

    internal BandwidthPipe(string name) => Name = name;

    public string Name { get; }
    public double BusyCycles { get; private set; }

    /// <summary>Reserves <paramref name="duration"/> cycles at the earliest time &gt;= earliest; returns the start.</summary>
    internal double Reserve(double earliest, double duration)
    {
        double start = earliest;
        int index = 0;
        while (index < _busy.Count && _busy[index].End <= start)
        {
            index++;
        }

        while (index < _busy.Count && _busy[index].Start < start + duration)
        {
            start = Math.Max(start, _busy[index].End);
            index++;
        }

        _busy.Insert(index, (start, start + duration));
        BusyCycles += duration;
        Coalesce(index);
        return start;
    }

    private void Coalesce(int index)
    {
        if (index + 1 < _busy.Count && _busy[index + 1].Start <= _busy[index].End)
        {
            _busy[index] = (_busy[index].Start, Math.Max(_busy[index].End, _busy[index + 1].End));
            _busy.RemoveAt(index + 1);
        }

        if (index > 0 && _busy[index].Start <= _busy[index - 1].End)
        {
            _busy[index - 1] = (_busy[index - 1].Start, Math.Max(_busy[index - 1].End, _busy[index].End));
            _busy.RemoveAt(index);
        }
    }
}
