// expect: MP4003
// Reopening its own budget to run forever.
using MoePlan.Scheduling;

MoePlan.Scheduling.Confinement.ScriptBudget.Open(TimeSpan.FromDays(1), long.MaxValue, long.MaxValue);
class S : Scheduler { }
new S()
