using System.Diagnostics;
using Xunit;

namespace MoePlan.Cli.Tests.Bundles;

/// <summary>
/// A fact that needs the real nginx (Debian's nginx or nginx-light; .ci/run installs it) and a private mount namespace
/// (unshare -m, as root) in which the bundle's node names resolve to the loopback address. Without them the test is
/// reported as skipped with the reason, never passed.
/// </summary>
public sealed class NginxFactAttribute : FactAttribute
{
    private static readonly Lazy<string?> MissingReason = new(FindMissing);

    public NginxFactAttribute()
    {
        if (MissingReason.Value is { } reason)
        {
            Skip = reason;
        }
    }

    public static string? Run(string file, string arguments, out string output)
    {
        try
        {
            using var process = Process.Start(new ProcessStartInfo(file, arguments)
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
            })!;
            var stdout = process.StandardOutput.ReadToEndAsync();
            var stderr = process.StandardError.ReadToEndAsync();
            if (!process.WaitForExit(60_000))
            {
                process.Kill(entireProcessTree: true);
                output = "timed out";
                return "timed out";
            }

            output = stdout.Result + stderr.Result;
            return process.ExitCode == 0 ? null : $"exit code {process.ExitCode}";
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            output = e.Message;
            return e.Message;
        }
    }

    private static string? FindMissing()
    {
        if (Run("nginx", "-v", out var version) is not null)
        {
            return $"nginx is not installed (nginx -v: {version.Trim()}); .ci/run installs Debian's nginx-light";
        }

        if (Run("unshare", "-m true", out var unshare) is not null)
        {
            return $"cannot make a private mount namespace to resolve the bundle's node names (unshare -m: {unshare.Trim()})";
        }

        return null;
    }
}
