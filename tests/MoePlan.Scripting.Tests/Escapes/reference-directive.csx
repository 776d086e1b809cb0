// expect: MP4002 (3,1)
// Pulling in another assembly.
#r "System.Net.Http.dll"
using MoePlan.Scheduling;

class S : Scheduler { }
new S()
