// expect: MP4021 (13,9)
// An exception whose Message getter throws: the script host reads Message within the budget and says it could not.
using MoePlan.Scheduling;

class Nasty : InvalidOperationException
{
    public override string Message => throw new InvalidOperationException("and again");
}

class S : Scheduler
{
    public override int ChoosePrefill(IRequestView r, IClusterState c) =>
        throw new Nasty();
}

new S()
