// expect: MP4020
// A string that doubles itself: exponential allocation without any size argument.
using MoePlan.Scheduling;

class S : Scheduler
{
    public override int ChoosePrefill(IRequestView r, IClusterState c)
    {
        var s = "x";
        while (true) { s += s; }
    }
}

new S()
