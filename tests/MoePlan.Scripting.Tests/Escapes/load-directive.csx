// expect: MP4002 (3,1)
// Pulling in another script file.
#load "/etc/passwd"
using MoePlan.Scheduling;

class S : Scheduler { }
new S()
