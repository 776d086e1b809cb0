// expect: MP4003
// A thread that would outlive the hook call.
using MoePlan.Scheduling;

new System.Threading.Thread(() => { }).Start();
class S : Scheduler { }
new S()
