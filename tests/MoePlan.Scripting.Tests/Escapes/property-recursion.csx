// expect: MP4020
// Unbounded recursion through a property getter.
using MoePlan.Scheduling;

class S : Scheduler
{
    int Forever => Forever + 1;

    public override int ChoosePrefill(IRequestView r, IClusterState c) => Forever;
}

new S()
