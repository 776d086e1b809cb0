// expect: MP4020 (13,13)
// Array.Sort wraps what its comparer throws (the budget's stop too) in an InvalidOperationException, which the script
// catches and carries on. The stop still fails the call: the script host reports the first stop of a call.
using MoePlan.Scheduling;

class S : Scheduler
{
    public override int ChoosePrefill(IRequestView r, IClusterState c)
    {
        var keys = new[] { 3, 1, 2 };
        try
        {
            Array.Sort(keys, (x, y) => { while (true) { } });
        }
        catch (InvalidOperationException)
        {
        }

        return 0;
    }
}

new S()
