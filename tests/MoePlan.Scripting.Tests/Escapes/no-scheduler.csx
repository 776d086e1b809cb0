// expect: MP4007
// The script never makes its scheduler.
using MoePlan.Scheduling;

class S : Scheduler { }
