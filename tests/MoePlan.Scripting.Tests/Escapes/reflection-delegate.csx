// expect: MP4003
// Reflection through a delegate's Method.
using MoePlan.Scheduling;

Func<int> f = () => 1;
var m = f.Method;
class S : Scheduler { }
new S()
