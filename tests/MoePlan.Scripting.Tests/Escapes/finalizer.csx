// expect: MP4004 (7,5)
// A finalizer runs on the GC's thread, outside every hook call and so outside the budget: it could spin forever.
using MoePlan.Scheduling;

class S : Scheduler
{
    ~S() { while (true) { } }
}

new S()
