// expect: MP4020
// Loops forever, then again in the finally block that runs while the stop unwinds.
using MoePlan.Scheduling;

class S : Scheduler
{
    public override bool Admit(IRequestView r, IClusterState c)
    {
        try { while (true) { } }
        finally { while (true) { } }
    }
}

new S()
