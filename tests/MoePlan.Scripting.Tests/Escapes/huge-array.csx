// expect: MP4020
// One huge allocation (16 GiB).
using MoePlan.Scheduling;

class S : Scheduler
{
    public override int ChoosePrefill(IRequestView r, IClusterState c) => new long[int.MaxValue].Length % 2;
}

new S()
