using System.Globalization;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using MoePlan.Proxy.Engine;
using MoePlan.Proxy.Server;
using MoePlan.Scripting;
using MoePlan.Tests.Support;
using Xunit.Abstractions;

namespace MoePlan.Proxy.Tests;

/// <summary>
/// Issue #21 under <c>moeplan proxy</c>: scripts of the hostile corpus (tests/MoePlan.Scripting.Tests: Hostile/ and
/// Escapes/) route a live proxy in front of emulated engines. Whatever the script does in ChoosePrefill (overflow the
/// stack where no check runs, loop forever, loop inside the BCL past the watchdog, allocate gigabytes, throw an
/// exception whose Message throws, name an instance that does not exist), every request completes on the default
/// policy's decision, /metrics counts the failures by kind, and the proxy keeps serving.
/// </summary>
public sealed partial class ScriptFaultTests(ITestOutputHelper output)
{
    private const double Speed = 20;

    /// <summary>Requests sent whatever the script does; the scripts that kill their host get more, up to the restart used.</summary>
    private const int Requests = 4;

    /// <summary>As the hostile corpus's own tests: 200 ms a call, killed 2 s past it (a shared machine), a 96 MiB heap.</summary>
    private static readonly ScriptBudgetOptions Budget = ScriptBudgetOptions.Default with { PerCall = TimeSpan.FromMilliseconds(200), Grace = TimeSpan.FromSeconds(2), HeapBytes = 96L << 20 };

    private static readonly string CacheDirectory = Path.Combine(Path.GetTempPath(), "moeplan-proxy-tests-" + Environment.ProcessId);

    /// <remarks>
    /// The kinds, from what each script does (its header comment) and how the script host reports it: an overflow
    /// where no budget check runs kills the script host (crash); a C# loop meets the budget's check (timeout, the host
    /// lives); a loop inside Enumerable.Max never meets one, so the watchdog kills the host (timeout, the host dies);
    /// sixteen 128 MB arrays fail at the 96 MiB heap cap (memory); a throwing Message getter is an exception; an
    /// instance past the last is invalid.
    /// </remarks>
    [Theory(Timeout = 180_000)]
    [InlineData("Hostile/field-initializer-overflow.csx", "crash", true)]
    [InlineData("Escapes/infinite-loop.csx", "timeout", false)]
    [InlineData("Hostile/concat-blowup.csx", "timeout", true)]
    [InlineData("Hostile/huge-allocation.csx", "memory", false)]
    [InlineData("Hostile/message-throws.csx", "exception", false)]
    [InlineData("Escapes/bad-decision.csx", "invalid", false)]
    public async Task A_failing_script_never_fails_a_request(string script, string kind, bool killsItsHost)
    {
        var path = RepositoryPaths.PathOf("tests", "MoePlan.Scripting.Tests", script);
        var load = SchedulerScriptCompiler.Load(path, CacheDirectory);
        Assert.True(load.Script is not null, string.Join('\n', load.Diagnostics));
        var logged = new StringWriter(CultureInfo.InvariantCulture);
        var log = TextWriter.Synchronized(logged);
        var policy = new ScriptPolicy(load.Script, Budget, fallback: true) { MaxRestarts = 1 };
        var plan = TestPlans.Plan(TestPlans.Tiny);
        await using var deployment = await EmulatedDeployment.StartAsync(plan, TestPlans.Tiny.Cost, policy, Speed, prefillInstances: 2, decodeInstances: 1, configure: o => o with { Log = log });
        using var client = new HttpClient { BaseAddress = deployment.Proxy.Address, Timeout = TimeSpan.FromSeconds(60) };
        Assert.True(policy.Active, "the script host was not started before the proxy listened");

        int sent = 0;
        async Task SendAsync()
        {
            var reply = await LiveDeploymentTests.PostAsync(client, "/v1/completions", new JsonObject { ["model"] = "m", ["prompt"] = $"request {sent}", ["max_tokens"] = 3 });
            Assert.Equal(3, reply["usage"]!["completion_tokens"]!.GetValue<int>());
            sent++;
        }

        for (int i = 0; i < Requests; i++)
        {
            await SendAsync();
        }

        // A script that kills its host: the proxy starts it again in the background (the default decides meanwhile),
        // and gives up when the restarted one dies too. Bounded: the restart takes seconds, not a minute.
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(90);
        while (killsItsHost && !policy.Disabled && DateTime.UtcNow < deadline)
        {
            await Task.Delay(100);
            await SendAsync();
        }

        var metrics = await client.GetStringAsync(new Uri("/metrics", UriKind.Relative));
        Assert.Contains($"moeplan_proxy_requests_total{{outcome=\"completed\"}} {sent}\n", metrics);
        Assert.Contains("moeplan_proxy_requests_total{outcome=\"failed\"} 0\n", metrics);
        var failures = FailureLine().Matches(metrics).ToDictionary(m => (m.Groups["hook"].Value, m.Groups["kind"].Value), m => double.Parse(m.Groups["n"].Value, CultureInfo.InvariantCulture));
        var text = logged.ToString();
        output.WriteLine(text);
        if (killsItsHost)
        {
            // One call killed the first host, one the restarted host; the calls between went to the default uncounted.
            Assert.True(policy.Disabled, $"the proxy never gave up on the script after {sent} requests; log:\n{text}");
            Assert.Equal(new Dictionary<(string, string), double> { [("ChoosePrefill", kind)] = 2 }, failures);
            Assert.Contains("moeplan_proxy_script_active 0\n", metrics);
            Assert.Contains("moeplan_proxy_script_restarts_total 1\n", metrics);
            Assert.Single(Regex.Matches(text, "warning MP4031: "));
            Assert.Single(Regex.Matches(text, "warning MP4032: "));
        }
        else
        {
            // The script host lives on: each request's one prefill decision went to the script and failed.
            Assert.Equal(new Dictionary<(string, string), double> { [("ChoosePrefill", kind)] = sent }, failures);
            Assert.Contains("moeplan_proxy_script_active 1\n", metrics);
            Assert.Contains("moeplan_proxy_script_restarts_total 0\n", metrics);
            Assert.DoesNotContain("MP4031", text, StringComparison.Ordinal);
        }

        // One line for the failure class, at the script, however many calls failed.
        Assert.Single(Regex.Matches(text, "warning MP4030: "));
        Assert.StartsWith($"{path}(", text, StringComparison.Ordinal);
        Assert.Contains($"ChoosePrefill failed ({kind})", text, StringComparison.Ordinal);

        // And it keeps serving.
        await SendAsync();
        Assert.Equal(sent, deployment.Proxy.Metrics.Count(RequestOutcome.Completed));
    }

    [Fact]
    public async Task A_script_without_fallback_is_refused()
    {
        var load = SchedulerScriptCompiler.Load(RepositoryPaths.PathOf("tests", "MoePlan.Scripting.Tests", "Escapes", "bad-decision.csx"), CacheDirectory);
        using var policy = new ScriptPolicy(load.Script!, Budget, fallback: false);
        var plan = TestPlans.Plan(TestPlans.Tiny);
        await Assert.ThrowsAsync<ArgumentException>(() => EmulatedDeployment.StartAsync(plan, TestPlans.Tiny.Cost, policy, Speed));
    }

    [GeneratedRegex("""^moeplan_proxy_script_failures_total\{hook="(?<hook>[^"]+)",kind="(?<kind>[^"]+)"\} (?<n>[0-9.e+]+)$""", RegexOptions.Multiline)]
    private static partial Regex FailureLine();
}
