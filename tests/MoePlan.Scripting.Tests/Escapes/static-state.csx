// expect: MP4005 (7,5)
// Static mutable state would leak from one run (or policy row) to the next.
using MoePlan.Scheduling;

class S : Scheduler
{
    static int calls;

    public override int ChoosePrefill(IRequestView r, IClusterState c) => calls++ % c.Prefill.Count;
}

new S()
