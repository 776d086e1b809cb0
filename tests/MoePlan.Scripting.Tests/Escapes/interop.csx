// expect: MP4004
// Native code through P/Invoke.
using MoePlan.Scheduling;

class S : Scheduler
{
    [System.Runtime.InteropServices.DllImport("libc")]
    static extern int getpid();
}

new S()
