// Tries to write every view the host hands out through a cast: to an array, to IList<T>, to ICollection<T>.
// Any write that succeeds returns 99 (an invalid decision, MP4022); otherwise every decision is the default's.
using MoePlan.Scheduling;

class Casts : Scheduler
{
    static bool Writes<T>(IReadOnlyList<T> list)
    {
        if (list.Count == 0) return false;
        if (list is T[] array) { array[0] = array[array.Length - 1]; return true; }
        if (list is IList<T> l)
        {
            try { l[0] = l[l.Count - 1]; return true; } catch (NotSupportedException) { }
            try { l.Insert(0, l[0]); return true; } catch (NotSupportedException) { }
        }

        if (list is ICollection<T> c)
        {
            try { c.Clear(); return true; } catch (NotSupportedException) { }
        }

        return false;
    }

    bool AnyWrite(IClusterState c) =>
        Writes(c.Prefill) || Writes(c.Decode)
        || c.Prefill.Any(p => Writes(p.RecentStepMilliseconds)) || c.Decode.Any(d => Writes(d.RecentStepMilliseconds));

    public override int ChoosePrefill(IRequestView r, IClusterState c) => AnyWrite(c) ? 99 : c.Defaults.ChoosePrefill(r);

    public override int ChooseDecode(IRequestView r, IClusterState c) => AnyWrite(c) ? 99 : c.Defaults.ChooseDecode(r);

    public override double PrefillPriority(IRequestView r, IPrefillQueueView q, IClusterState c) =>
        AnyWrite(c) || Writes(q.Waiting) ? double.NaN : c.Defaults.PrefillPriority(r, q);
}

new Casts()
