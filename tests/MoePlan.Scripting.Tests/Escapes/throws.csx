// expect: MP4021 (10,13)
// Throws from a hook: reported at the throwing line.
using MoePlan.Scheduling;

class S : Scheduler
{
    public override int ChooseDecode(IRequestView r, IClusterState c)
    {
        if (r.InputTokens > 0)
            throw new InvalidOperationException("no decode instance suits");
        return -1;
    }
}

new S()
