// expect: MP4020
// Allocates without bound in small pieces.
using MoePlan.Scheduling;

class S : Scheduler
{
    public override int ChoosePrefill(IRequestView r, IClusterState c)
    {
        var keep = new List<int[]>();
        for (;;)
        {
            keep.Add(new int[1 << 16]);
        }
    }
}

new S()
