// expect: MP4020
// Unbounded recursion: stopped before the stack overflows (which would kill the process).
using MoePlan.Scheduling;

class S : Scheduler
{
    static int Deep(int n) => Deep(n + 1) + 1;

    public override int ChoosePrefill(IRequestView r, IClusterState c) => Deep(0);
}

new S()
