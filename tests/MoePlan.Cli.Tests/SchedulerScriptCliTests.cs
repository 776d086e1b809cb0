using System.Text.RegularExpressions;
using MoePlan.Tests.Support;
using Xunit;

namespace MoePlan.Cli.Tests;

/// <summary>Scheduler scripts through the CLI: <c>run --scheduler</c>, the plan's <c>policy script</c>, <c>check</c>.</summary>
public sealed class SchedulerScriptCliTests
{
    private static readonly string Scripted = RepositoryPaths.PathOf("plans", "qwen1.5-moe-scripted.moe");
    private static readonly string Tiny = RepositoryPaths.PathOf("plans", "qwen1.5-moe-tiny.moe");

    private static string Script(string name, string text)
    {
        var folder = CliRunner.TempFolder();
        Directory.CreateDirectory(folder);
        var path = Path.Combine(folder, name);
        File.WriteAllText(path, text);
        return path;
    }

    [Fact]
    public void Compare_policies_adds_the_plan_script_as_a_row()
    {
        var (code, output, error) = CliRunner.Run("run", Scripted, "--compare-policies", "--max-requests", "60");
        Assert.True(code == 0, error + output);
        foreach (var name in new[] { "omni", "round-robin", "least-load", "cache-aware", "global-proxy", "kv-cost", "cache-affinity.csx" })
        {
            Assert.Contains($"│ {name} ", output, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void Scheduler_option_overrides_the_plan_policy()
    {
        var spf = RepositoryPaths.PathOf("plans", "schedulers", "shortest-prefill-first.csx");
        var (code, output, error) = CliRunner.Run("run", Tiny, "--scheduler", spf, "--max-requests", "40");
        Assert.True(code == 0, error + output);
        Assert.Contains("policy shortest-prefill-first.csx,", output, StringComparison.Ordinal);
        Assert.Equal("", error);
    }

    [Fact]
    public void A_script_with_errors_is_not_run()
    {
        // Line 2, "class S : Scheduler { int x = System.IO.File.ReadAllText("/etc/hostname").Length; }": the
        // forbidden type System.IO.File starts at column 31.
        var path = Script("bad.csx", "using MoePlan.Scheduling;\nclass S : Scheduler { int x = System.IO.File.ReadAllText(\"/etc/hostname\").Length; }\nnew S()\n");
        var (code, output, error) = CliRunner.Run("run", Tiny, "--scheduler", path);
        Assert.Equal(1, code);
        Assert.Equal("", output);
        Assert.Contains($"{path}(2,31): error MP4003: 'System.IO.File' is not allowed in a scheduler script", error, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", error, StringComparison.Ordinal);
    }

    [Fact]
    public void A_runaway_hook_ends_the_run_or_falls_back_when_asked()
    {
        // A run-time stop is located by the script line it left from (its first non-blank column): line 3.
        var path = Script("spin.csx", "using MoePlan.Scheduling;\nclass S : Scheduler {\n  public override int ChooseDecode(IRequestView r, IClusterState c) { while (true) { } }\n}\nnew S()\n");
        var (code, output, error) = CliRunner.Run("run", Tiny, "--scheduler", path, "--max-requests", "5");
        Assert.Equal(1, code);
        Assert.Equal("", output);
        Assert.Contains($"{path}(3,3): error MP4020: ChooseDecode ran out of its time budget", error, StringComparison.Ordinal);
        Assert.Contains("run stopped", error, StringComparison.Ordinal);

        // With the fallback each of the 5 requests' decode choice is omni's: the run completes and says so.
        (code, output, error) = CliRunner.Run("run", Tiny, "--scheduler", path, "--max-requests", "5", "--scheduler-fallback");
        Assert.True(code == 0, error);
        Assert.Contains("5 completed", output, StringComparison.Ordinal);
        Assert.Contains("spin.csx: 5 hook call(s) failed and took the default policy's decision", error, StringComparison.Ordinal);
    }

    [Fact]
    public void Scheduler_and_policy_together_or_a_missing_script_are_usage_errors()
    {
        var (code, _, error) = CliRunner.Run("run", Tiny, "--policy", "omni", "--scheduler", "x.csx");
        Assert.Equal(2, code);
        Assert.Contains("give --policy or --scheduler, not both", error, StringComparison.Ordinal);
        (code, _, error) = CliRunner.Run("run", Tiny, "--scheduler", "/nonexistent/x.csx");
        Assert.Equal(2, code);
        Assert.Contains("cannot read scheduler script", error, StringComparison.Ordinal);
    }

    [Fact]
    public void Check_compiles_the_plan_script()
    {
        var folder = CliRunner.TempFolder();
        Directory.CreateDirectory(Path.Combine(folder, "schedulers"));
        var plan = Path.Combine(folder, "p.moe");
        File.WriteAllText(plan, File.ReadAllText(Scripted));
        // Its trace, next to it as in plans/.
        Directory.CreateDirectory(Path.Combine(folder, "data"));
        File.Copy(Path.Combine(Path.GetDirectoryName(Scripted)!, "data", "prefix_groups_trace.jsonl"), Path.Combine(folder, "data", "prefix_groups_trace.jsonl"));
        // The plan names schedulers/cache-affinity.csx; here it has a compile error on line 1, column 9.
        var script = Path.Combine(folder, "schedulers", "cache-affinity.csx");
        File.WriteAllText(script, "class S : Scheduler { }\nnew S()\n".Insert(0, "int x = \"no\";\n"));
        var (code, output, _) = CliRunner.Run("check", plan);
        Assert.Equal(1, code);
        Assert.Contains($"{script}(1,9): error MP4001: CS0029", output, StringComparison.Ordinal);

        // No script file: MP4008 at the plan's policy line.
        File.Delete(script);
        (code, output, _) = CliRunner.Run("check", plan);
        Assert.Equal(1, code);
        Assert.Matches(@"p\.moe\(\d+,\d+\): error MP4008: cannot read the scheduler script 'schedulers/cache-affinity.csx'", output);
    }

    [Fact]
    public void A_scheduler_path_that_is_not_a_regular_file_is_a_located_diagnostic()
    {
        // /proc/self/mem exists (so it passes the existence check) but cannot be read as text: MP4008, exit 1.
        var (code, output, error) = CliRunner.Run("run", Tiny, "--scheduler", "/proc/self/mem", "--max-requests", "5");
        Assert.True(code == 1, error + output);
        Assert.Contains("/proc/self/mem(1,1): error MP4008: cannot read the scheduler script '/proc/self/mem'", error, StringComparison.Ordinal);
        (code, output, error) = CliRunner.Run("run", Tiny, "--scheduler", "/dev/zero", "--max-requests", "5");
        Assert.True(code == 1, error + output);
        Assert.Contains("/dev/zero(1,1): error MP4008: cannot read the scheduler script '/dev/zero': it is a character device", error, StringComparison.Ordinal);
    }

    [Fact]
    public void Check_refuses_a_plan_script_nested_10000_deep_without_crashing()
    {
        var folder = CliRunner.TempFolder();
        Directory.CreateDirectory(Path.Combine(folder, "schedulers"));
        var plan = Path.Combine(folder, "p.moe");
        File.WriteAllText(plan, File.ReadAllText(Scripted));
        Directory.CreateDirectory(Path.Combine(folder, "data"));
        File.Copy(Path.Combine(Path.GetDirectoryName(Scripted)!, "data", "prefix_groups_trace.jsonl"), Path.Combine(folder, "data", "prefix_groups_trace.jsonl"));
        var script = Path.Combine(folder, "schedulers", "cache-affinity.csx");
        // "return " is columns 1-7; the 101st '(' (past the 100 levels allowed) is column 108.
        File.WriteAllText(script, "return " + new string('(', 10_000) + "0" + new string(')', 10_000) + ";\n");
        var (code, output, _) = CliRunner.Run("check", plan);
        Assert.Equal(1, code);
        Assert.Contains($"{script}(1,108): error MP4009: brackets nest too deeply here (the limit is 100 levels of (), [] and {{}}); the script is not compiled", output, StringComparison.Ordinal);
    }

    [Fact]
    public void A_script_that_overflows_the_stack_stops_the_run_cleanly_or_falls_back()
    {
        // The field initializer recurses where no budget check runs; the stack overflow ends the script host
        // (a child process), and moeplan reports MP4023 at the hook's line (5, column 5) and exits 1.
        var path = Script("overflow.csx", "using MoePlan.Scheduling;\nclass N { N next = new N(); }\nclass S : Scheduler\n{\n    public override int ChoosePrefill(IRequestView r, IClusterState c) => new N() is null ? 1 : 0;\n}\nnew S()\n");
        var (code, output, error) = CliRunner.Run("run", Tiny, "--scheduler", path, "--max-requests", "5");
        Assert.True(code == 1, error + output);
        // On a machine so loaded that the dying child does not get the CPU to report its overflow within the
        // watchdog's grace, the watchdog's MP4020 comes instead: either is the clean end (the exact code is asserted
        // by the hostile corpus, with a longer grace).
        Assert.Matches(Regex.Escape($"{path}(5,5): error MP402") + @"(3: the script host process died during ChoosePrefill: stack overflow|0: ChoosePrefill did not return)", error);
        Assert.Contains("run stopped", error, StringComparison.Ordinal);
        Assert.DoesNotContain("Stack overflow.", error + output, StringComparison.Ordinal);

        // With the fallback the run completes on the default policy and says so.
        (code, output, error) = CliRunner.Run("run", Tiny, "--scheduler", path, "--max-requests", "5", "--scheduler-fallback");
        Assert.True(code == 0, error + output);
        Assert.Contains("requests: 5 arrived, 5 completed", output, StringComparison.Ordinal);
        Assert.Contains("overflow.csx: 1 hook call(s) failed and took the default policy's decision (--scheduler-fallback); after a failure it could not recover from, the script was not called again", error, StringComparison.Ordinal);
        Assert.Matches("MP402[03]", error);
    }

    [Fact]
    public void A_script_hanging_in_library_code_is_killed_and_reported()
    {
        // Forty doublings of a lazy sequence then Max(): a BCL loop no budget check reaches. The watchdog kills the
        // script host after the call's budget plus its grace (100 ms + 1 s): MP4020 at the hook's line 3.
        var path = Script("concat.csx", "using MoePlan.Scheduling;\nclass S : Scheduler {\n    public override int ChoosePrefill(IRequestView r, IClusterState c) { IEnumerable<int> e = Enumerable.Range(0, 1000); for (int i = 0; i < 40; i++) e = e.Concat(e); return e.Max() % 2; }\n}\nnew S()\n");
        var (code, output, error) = CliRunner.Run("run", Tiny, "--scheduler", path, "--max-requests", "5");
        Assert.True(code == 1, error + output);
        Assert.Contains($"{path}(3,5): error MP4020: ChoosePrefill did not return within 1100 ms and was stopped from outside", error, StringComparison.Ordinal);
    }

    [Fact]
    public void The_same_plan_seed_and_script_give_the_same_bytes()
    {
        var (code1, first, error1) = CliRunner.Run("run", Scripted, "--max-requests", "150", "--format", "json");
        var (code2, second, error2) = CliRunner.Run("run", Scripted, "--max-requests", "150", "--format", "json");
        Assert.True(code1 == 0 && code2 == 0, error1 + error2);
        Assert.Contains("cache-affinity.csx", first, StringComparison.Ordinal);
        Assert.Equal(first, second);
    }
}
