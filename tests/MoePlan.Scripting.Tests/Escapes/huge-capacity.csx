// expect: MP4020
// A huge allocation inside the BCL (a list's capacity).
using MoePlan.Scheduling;

class S : Scheduler
{
    public override int ChoosePrefill(IRequestView r, IClusterState c) => new List<long>(int.MaxValue).Count;
}

new S()
