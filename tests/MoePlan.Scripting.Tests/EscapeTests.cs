using MoePlan.Core.Diagnostics;

namespace MoePlan.Scripting.Tests;

/// <summary>
/// The escape corpus (Escapes/*.csx): each attempt is rejected at compile time (nothing of it runs) or stopped
/// at run time with its code, and its side effects do not happen. The expected code (and, where given, the
/// hand-counted line and column) is in each file's first line.
/// </summary>
public sealed class EscapeTests
{
    public static TheoryData<string> Escapes() =>
        [.. Directory.GetFiles(Path.Combine(AppContext.BaseDirectory, "Escapes"), "*.csx").Select(f => Path.GetFileName(f)!).Order(StringComparer.Ordinal)];

    [Theory]
    [MemberData(nameof(Escapes))]
    public void Escape_is_rejected_or_stopped_with_its_code(string name)
    {
        var path = ScriptHarness.EscapePath(name);
        var (code, line, column) = ScriptHarness.Expected(path);
        var load = ScriptHarness.Load(path);
        Diagnostic found;
        if (code.CompareTo("MP4020") < 0)
        {
            // Compile time: no image, so nothing of the script can run.
            Assert.Null(load.Script);
            var match = load.Diagnostics.FirstOrDefault(d => d.Code == code && (line is null || (d.Span!.Value.Line == line && d.Span!.Value.Column == column)));
            Assert.True(match is not null, $"expected {code} at ({line},{column}); got:\n" + string.Join("\n", load.Diagnostics));
            found = match;
        }
        else
        {
            Assert.True(load.Script is not null, string.Join("\n", load.Diagnostics));
            using var policy = new ScriptPolicy(load.Script, ScriptBudgetOptions.Default, fallback: false);
            var stop = Assert.Throws<SchedulerHookException>(() => ScriptHarness.RunSmall(policy));
            found = stop.Diagnostic;
            Assert.Equal(code, found.Code);
            if (line is not null)
            {
                Assert.Equal((line, column), (found.Span!.Value.Line, found.Span!.Value.Column));
            }
        }

        Assert.Equal(path, found.Span!.Value.File);
        Assert.StartsWith($"{path}(", found.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void Side_effects_of_the_rejected_escapes_do_not_happen()
    {
        File.Delete("/tmp/moeplan-escape-file-write.txt");
        File.Delete("/tmp/moeplan-escape-process.txt");
        foreach (var name in new[] { "file-write.csx", "process-start.csx", "environment.csx" })
        {
            var load = ScriptHarness.Load(ScriptHarness.EscapePath(name));
            Assert.Null(load.Script);
        }

        Assert.False(File.Exists("/tmp/moeplan-escape-file-write.txt"));
        Assert.False(File.Exists("/tmp/moeplan-escape-process.txt"));
        Assert.Null(Environment.GetEnvironmentVariable("MOEPLAN_ESCAPE_ENV"));
    }

    [Fact]
    public void Fallback_takes_the_default_decision_and_counts_it()
    {
        // Every ChoosePrefill call loops forever; with fallback each one is stopped and omni decides instead,
        // so the run completes every request (20 requests: 20 ChoosePrefill calls fall back).
        var load = ScriptHarness.Load(ScriptHarness.EscapePath("infinite-loop.csx"));
        using var policy = new ScriptPolicy(load.Script!, ScriptBudgetOptions.Default with { PerCall = TimeSpan.FromMilliseconds(5) }, fallback: true);
        var result = ScriptHarness.RunSmall(policy);
        Assert.Equal(20, result.Completed.Count);
        Assert.Equal(20, policy.Fallbacks);
    }
}
