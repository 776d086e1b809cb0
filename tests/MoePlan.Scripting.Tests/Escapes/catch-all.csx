// expect: MP4006 (12,11)
// A catch-all would swallow the budget's stop and loop forever.
using MoePlan.Scheduling;

class S : Scheduler
{
    public override int ChoosePrefill(IRequestView r, IClusterState c)
    {
        while (true)
        {
            try { } 
          catch (Exception) { }
        }
    }
}

new S()
