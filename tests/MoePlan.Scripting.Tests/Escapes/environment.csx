// expect: MP4003
// Sets an environment variable; the test asserts it stays unset.
using MoePlan.Scheduling;

Environment.SetEnvironmentVariable("MOEPLAN_ESCAPE_ENV", "1");
class S : Scheduler { }
new S()
