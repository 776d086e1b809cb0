// expect: MP4001
// Pointers: Roslyn itself refuses unsafe code in a script compiled without /unsafe.
using MoePlan.Scheduling;

class S : Scheduler
{
    unsafe int Peek(int* p) => *p;
}

new S()
