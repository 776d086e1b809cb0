namespace MoePlan.Scripting.Tests.Hostile;

/// <summary>
/// The hostile corpus (Hostile/*.csx with an <c>// expect:</c> line; issue #21): scripts that overflow the stack
/// where no budget check reaches, hang in BCL code, swallow the budget's stop, allocate gigabytes or hijack the
/// error report. Each ends its run with its code, located at its hand-counted line (the script's, or the hook's
/// when the script host died), and the test process lives on. Budgets are small so the corpus runs in seconds; 60
/// requests give the scripts that grow their state call by call (deep-reverse.csx: 10,000 a call up to 500,000) the
/// calls they need.
/// </summary>
public sealed class HostileScriptTests
{
    /// <summary>
    /// 200 ms per call, killed 2 s past it (the test machine is shared: a slow first call is not a hang); a 96 MiB
    /// heap (a GC at a hard limit twice a 128 MB array's size works for seconds before it gives up).
    /// </summary>
    internal static readonly ScriptBudgetOptions Small = ScriptBudgetOptions.Default with { PerCall = TimeSpan.FromMilliseconds(200), Grace = TimeSpan.FromSeconds(2), HeapBytes = 96L << 20 };

    public static TheoryData<string> Corpus() =>
        [.. Directory.GetFiles(Path.Combine(AppContext.BaseDirectory, "Hostile"), "*.csx")
            .Where(f => File.ReadLines(f).First().StartsWith("// expect:", StringComparison.Ordinal))
            .Select(f => Path.GetFileName(f)!).Order(StringComparer.Ordinal)];

    private static string PathOf(string name) => Path.Combine(AppContext.BaseDirectory, "Hostile", name);

    [Theory(Timeout = 60_000)]
    [MemberData(nameof(Corpus))]
    public async Task Hostile_script_ends_the_run_with_its_located_code(string name)
    {
        var path = PathOf(name);
        var (code, line, column) = ScriptHarness.Expected(path);
        var load = ScriptHarness.Load(path);
        Assert.True(load.Script is not null, string.Join("\n", load.Diagnostics));
        var stop = await Task.Run(() => Assert.Throws<SchedulerHookException>(() => ScriptHarness.RunSmall(new ScriptPolicy(load.Script, Small, fallback: false), requests: 60)));
        var d = stop.Diagnostic;
        Assert.True(d.Code == code, d.ToString());
        Assert.True((path, line, column) == (d.Span!.Value.File, d.Span.Value.Line, d.Span.Value.Column), $"expected ({line},{column}): {d}");
        Assert.StartsWith($"{path}(", d.ToString(), StringComparison.Ordinal);
    }

    [Theory(Timeout = 60_000)]
    [InlineData("field-initializer-overflow.csx")]
    [InlineData("concat-blowup.csx")]
    public async Task With_fallback_the_run_completes_on_the_default_policy(string name)
    {
        // The first ChoosePrefill kills the script host (stack overflow; the watchdog); the script is not called again,
        // so all 20 requests complete on the default policy, and the one failed call is counted.
        var load = ScriptHarness.Load(PathOf(name));
        using var policy = new ScriptPolicy(load.Script!, Small, fallback: true);
        var result = await Task.Run(() => ScriptHarness.RunSmall(policy));
        Assert.Equal(20, result.Completed.Count);
        Assert.Equal(1, policy.Fallbacks);
        Assert.True(policy.Disabled);
        Assert.Equal(name.StartsWith("field", StringComparison.Ordinal) ? "MP4023" : "MP4020", policy.Failures[0].Code);
    }
}
