// expect: MP4022 (7,5)
// Names a prefill instance that does not exist.
using MoePlan.Scheduling;

class S : Scheduler
{
    public override int ChoosePrefill(IRequestView r, IClusterState c) => c.Prefill.Count + 5;
}

new S()
