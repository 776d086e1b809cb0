// expect: MP4003 (5,1)
// Writes a file at compile-time-rejected top level; the test asserts the file never appears.
using MoePlan.Scheduling;

System.IO.File.WriteAllText("/tmp/moeplan-escape-file-write.txt", "escaped");
class S : Scheduler { }
new S()
