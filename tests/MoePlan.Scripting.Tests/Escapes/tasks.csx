// expect: MP4003
// Background work through the thread pool.
using MoePlan.Scheduling;

System.Threading.Tasks.Task.Run(() => 1);
class S : Scheduler { }
new S()
