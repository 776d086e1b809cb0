// expect: MP4020 (8,5)
// Forty doublings of a lazy sequence, then Max(): 2^40 x 1,000 elements summed inside the BCL, where no budget
// check runs. The watchdog kills the script host past the call's deadline.
using MoePlan.Scheduling;

class S : Scheduler
{
    public override int ChoosePrefill(IRequestView r, IClusterState c)
    {
        IEnumerable<int> e = Enumerable.Range(0, 1000);
        for (int i = 0; i < 40; i++)
        {
            e = e.Concat(e);
        }

        return e.Max() % 2;
    }
}

new S()
