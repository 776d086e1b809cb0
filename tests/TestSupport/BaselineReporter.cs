using ApprovalTests.Core;

namespace MoePlan.Tests.Support;

/// <summary>
/// Reports a baseline mismatch without launching any diff tool: prints the command that accepts the new
/// output. With MOEPLAN_ACCEPT_BASELINES=1 it accepts it (copies received over approved), as Bicep's switch does.
/// </summary>
public sealed class BaselineReporter : IApprovalFailureReporter
{
    public void Report(string approved, string received)
    {
        if (Environment.GetEnvironmentVariable("MOEPLAN_ACCEPT_BASELINES") == "1")
        {
            File.Copy(received, approved, overwrite: true);
            File.Delete(received);
            return;
        }

        Console.Error.WriteLine($"Baseline differs. To accept: cp \"{received}\" \"{approved}\" (or rerun with MOEPLAN_ACCEPT_BASELINES=1)");
    }
}
