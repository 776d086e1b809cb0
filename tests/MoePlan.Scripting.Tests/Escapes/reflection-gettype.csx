// expect: MP4003 (7,68)
// Reflection from an instance (GetType) to reach a forbidden type.
using MoePlan.Scheduling;

class S : Scheduler
{
    public override bool Admit(IRequestView r, IClusterState c) => "x".GetType().Assembly.GetType("System.IO.File") is null;
}

new S()
