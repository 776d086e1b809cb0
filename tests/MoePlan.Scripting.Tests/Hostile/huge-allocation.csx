// expect: MP4020 (10,9)
// Sixteen 128 MB arrays in one expression (no loop, no lambda: no budget check between them), 2 GB in all: the script
// host's GC heap is capped (DOTNET_GCHeapHardLimit), so the allocation fails there, not in moeplan.
using MoePlan.Scheduling;

class S : Scheduler
{
    public override int ChoosePrefill(IRequestView r, IClusterState c)
    {
        long[] A() => Enumerable.Repeat(0L, 16_000_000).ToArray();
        var all = new[] { A(), A(), A(), A(), A(), A(), A(), A(), A(), A(), A(), A(), A(), A(), A(), A() };
        return (int)(all.Sum(a => a.LongLength) % 2);
    }
}

new S()
