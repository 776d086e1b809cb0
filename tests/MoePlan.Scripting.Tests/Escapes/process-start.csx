// expect: MP4001 (10,9)
// Starts a process that would create a file; the test asserts the file never appears. Rejected even before
// the allow-list: System.Diagnostics.Process's assembly is not among the script's references.
using MoePlan.Scheduling;

class S : Scheduler
{
    public override int ChoosePrefill(IRequestView r, IClusterState c)
    {
        System.Diagnostics.Process.Start("touch", "/tmp/moeplan-escape-process.txt");
        return 0;
    }
}

new S()
