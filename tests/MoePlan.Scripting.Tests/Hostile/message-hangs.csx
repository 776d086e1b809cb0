// expect: MP4021 (17,9)
// An exception whose Message never returns: it is read within the budget, so the loop is stopped there.
using MoePlan.Scheduling;

class Stuck : InvalidOperationException
{
    public override string Message
    {
        get { while (true) { } }
    }
}

class S : Scheduler
{
    public override int ChoosePrefill(IRequestView r, IClusterState c)
    {
        throw new Stuck();
    }
}

new S()
