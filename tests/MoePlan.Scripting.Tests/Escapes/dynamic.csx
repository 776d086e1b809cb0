// expect: MP4004 (9,9)
// dynamic defers binding to run time, past the check.
using MoePlan.Scheduling;

class S : Scheduler
{
    public override bool Admit(IRequestView r, IClusterState c)
    {
        dynamic d = r;
        return true;
    }
}

new S()
