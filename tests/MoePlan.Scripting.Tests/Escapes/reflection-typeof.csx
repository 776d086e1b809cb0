// expect: MP4003
// Reflection from a type to reach System.IO.File.
using MoePlan.Scheduling;

var file = typeof(object).Assembly.GetType("System.IO.File");
class S : Scheduler { }
new S()
