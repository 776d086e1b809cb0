// expect: MP4020
// Loops forever with goto.
using MoePlan.Scheduling;

class S : Scheduler
{
    public override bool Admit(IRequestView r, IClusterState c)
    {
    again:
        goto again;
    }
}

new S()
