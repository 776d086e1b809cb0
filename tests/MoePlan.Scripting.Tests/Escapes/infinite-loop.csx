// expect: MP4020 (9,9)
// Loops forever in a hook: stopped by the time budget.
using MoePlan.Scheduling;

class S : Scheduler
{
    public override int ChoosePrefill(IRequestView r, IClusterState c)
    {
        while (true) { }
    }
}

new S()
