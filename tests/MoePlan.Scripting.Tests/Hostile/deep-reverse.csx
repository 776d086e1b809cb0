// expect: MP4023 (11,5)
// 500,000 nested Reverse() calls: copying them to an array recurses inside the BCL (no budget checks there) until the
// stack overflows. The nesting grows by 10,000 per call (within the time budget).
using MoePlan.Scheduling;

class S : Scheduler
{
    IEnumerable<int> e = new[] { 0 };
    int depth;

    public override int ChoosePrefill(IRequestView r, IClusterState c)
    {
        for (int i = 0; i < 10_000; i++, depth++)
        {
            e = e.Reverse();
        }

        return depth >= 500_000 ? e.ToArray()[0] : 0;
    }
}

new S()
