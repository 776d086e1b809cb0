// expect: MP4003
// Creating objects by name.
using MoePlan.Scheduling;

var o = Activator.CreateInstance("System.Private.CoreLib", "System.Object");
class S : Scheduler { }
new S()
