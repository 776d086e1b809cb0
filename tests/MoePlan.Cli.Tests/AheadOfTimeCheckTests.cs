using System.Diagnostics;
using MoePlan.Tests.Support;
using Xunit;

namespace MoePlan.Cli.Tests;

/// <summary>
/// <c>moeplan-check</c> (src/MoePlan.Check, the check compiled ahead of time for CI and editors) says what <c>moeplan check</c>
/// says: same output, same exit code, over every sample plan and every invalid-plan baseline. Run here as the JIT build of
/// the same project (the published form is the same code, compiled natively: docs/benchmarks.md).
/// </summary>
public sealed class AheadOfTimeCheckTests
{
    /// <summary>The test's own build configuration (bin/Debug/net10.0 or bin/Release/net10.0) holds for the project too.</summary>
    private static string CheckDll()
    {
        var configuration = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar)).Parent!.Name;
        var dll = RepositoryPaths.PathOf("src", "MoePlan.Check", "bin", configuration, "net10.0", "moeplan-check.dll");
        Assert.True(File.Exists(dll), $"{dll} was not built");
        return dll;
    }

    private static (int ExitCode, string Out, string Error) RunCheckProcess(string? pathPrefix, params string[] args) =>
        RunCheckProcessWithInput(pathPrefix, null, args);

    private static (int ExitCode, string Out, string Error) RunCheckProcessWithInput(string? pathPrefix, string? stdin, params string[] args)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = stdin is not null, UseShellExecute = false };
        start.ArgumentList.Add(CheckDll());
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        if (pathPrefix is not null)
        {
            start.Environment["PATH"] = pathPrefix + Path.PathSeparator + Environment.GetEnvironmentVariable("PATH");
        }

        using var process = Process.Start(start)!;
        if (stdin is not null)
        {
            process.StandardInput.Write(stdin);
            process.StandardInput.Close();
        }

        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        Assert.True(process.WaitForExit(TimeSpan.FromMinutes(2)), "moeplan-check did not finish");
        return (process.ExitCode, stdout.Result.Replace("\r\n", "\n", StringComparison.Ordinal), stderr.Result.Replace("\r\n", "\n", StringComparison.Ordinal));
    }

    public static TheoryData<string> Plans()
    {
        var invalid = Directory.GetFiles(RepositoryPaths.PathOf("tests", "MoePlan.Core.Tests", "Baselines", "Invalid"), "*.moe");
        return new([.. RepositoryPaths.SamplePlans().Where(p => !p.Contains("scripted", StringComparison.Ordinal)), .. invalid.Order(StringComparer.Ordinal)]);
    }

    [Theory]
    [MemberData(nameof(Plans))]
    public void Says_what_moeplan_check_says(string plan)
    {
        var expected = CliRunner.Run("check", plan);
        var actual = RunCheckProcess(null, plan);
        Assert.Equal(expected, actual);
    }

    [Fact]
    public void Formats_usage_errors_and_overrides_are_the_same()
    {
        var plan = RepositoryPaths.PathOf("plans", "deepseek-v3-h800.moe");
        string[][] cases =
        [
            [plan, "--format", "json"],
            [plan, "--format", "sarif"],
            [plan, "--set", "decode.parallel.ep=7"],
            [plan, "--frobnicate"],
            [RepositoryPaths.PathOf("no", "such", "plan.moe")],
        ];
        foreach (var arguments in cases)
        {
            Assert.Equal(CliRunner.Run(["check", .. arguments]), RunCheckProcess(null, arguments));
        }
    }

    [Fact]
    public void A_plan_with_a_scheduler_script_is_checked_by_moeplan_check()
    {
        // Scripts are compiled with Roslyn, which an ahead-of-time binary cannot load: moeplan-check hands the whole
        // check to the `moeplan` on PATH (here the CLI built beside these tests), whose answer is the answer.
        var plan = RepositoryPaths.PathOf("plans", "qwen1.5-moe-scripted.moe");
        var (code, stdout, _) = RunCheckProcess(AppContext.BaseDirectory, plan);
        var expected = CliRunner.Run("check", plan);
        Assert.Equal(expected.ExitCode, code);
        Assert.Equal(expected.Out, stdout);

        // From standard input too: the text read for the check is what `moeplan check -` gets. Imports resolve against the
        // working folder (both run in this one), so the scripted sample is given with its script and trace paths absolute.
        var text = File.ReadAllText(plan)
            .Replace("\"schedulers/", "\"" + RepositoryPaths.PathOf("plans", "schedulers") + "/", StringComparison.Ordinal)
            .Replace("\"data/", "\"" + RepositoryPaths.PathOf("plans", "data") + "/", StringComparison.Ordinal);
        var fromStdin = RunCheckProcessWithInput(AppContext.BaseDirectory, text, "-");
        var expectedFromStdin = CliRunner.RunWithInput(text, "check", "-");
        Assert.Equal(0, expectedFromStdin.ExitCode);
        Assert.Equal(expectedFromStdin.ExitCode, fromStdin.ExitCode);
        Assert.Equal(expectedFromStdin.Out, fromStdin.Out);

        // Without a moeplan to hand over to, it says so (exit 2), and prints nothing on standard output.
        var alone = RunCheckProcess("/nonexistent-moeplan-folder", plan);
        if (!File.Exists(Path.Combine(Path.GetDirectoryName(CheckDll())!, "moeplan")) && !OnPath("moeplan"))
        {
            Assert.Equal(2, alone.ExitCode);
            Assert.Equal("", alone.Out);
            Assert.Contains("scheduler script", alone.Error, StringComparison.Ordinal);
        }
    }

    private static bool OnPath(string program) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator).Any(d => d.Length > 0 && File.Exists(Path.Combine(d, program)));
}
