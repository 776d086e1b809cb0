using System.Text.RegularExpressions;
using MoePlan.Core.Plan;
using MoePlan.Core.Workloads;
using MoePlan.Serving.Proxy;
using MoePlan.Serving.Simulation;

namespace MoePlan.Scripting.Tests;

/// <summary>Loads scripts into a private cache folder and runs them on a small simulation.</summary>
internal static partial class ScriptHarness
{
    /// <summary>One cache folder per test process, so tests do not touch the user's cache.</summary>
    public static readonly string CacheDirectory = Path.Combine(Path.GetTempPath(), "moeplan-scripting-tests-" + Environment.ProcessId);

    public static string EscapePath(string name) => Path.Combine(AppContext.BaseDirectory, "Escapes", name);

    public static ScriptLoad Load(string path) => SchedulerScriptCompiler.Load(path, CacheDirectory);

    /// <summary>A script in a temporary file (for cases that need their own text).</summary>
    public static string WriteTemp(string name, string text)
    {
        var dir = Path.Combine(CacheDirectory, "src", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        var path = Path.Combine(dir, name);
        File.WriteAllText(path, text);
        return path;
    }

    /// <summary>The escape's expected code and, when given, its line and column: <c>// expect: MP4020 (9,9)</c>.</summary>
    public static (string Code, int? Line, int? Column) Expected(string path)
    {
        var m = ExpectRegex().Match(File.ReadLines(path).First());
        Assert.True(m.Success, $"{path}: the first line must be '// expect: MP4xxx [(line,col)]'");
        return (m.Groups[1].Value, m.Groups[2].Success ? int.Parse(m.Groups[2].Value) : null, m.Groups[3].Success ? int.Parse(m.Groups[3].Value) : null);
    }

    /// <summary>Two prefill and two decode instances, constant step times: fast and independent of the cost model.</summary>
    public static SimulationResult RunSmall(IRoutingPolicy policy, int requests = 20)
    {
        var config = new ServingConfig(2, 4096, 100, 2, 8, 100_000, 1, 1e-3, 10, ProxyMode.Sequential, true, true, 1e-3, null, null);
        var arrivals = Enumerable.Range(0, requests).Select(i => new ArrivingRequest(i, i * 5.0, 600 + (i * 37 % 400), 4, [1, 100 + i]));
        try
        {
            return new ServingSimulation(config, new ConstantSteps(), policy, retainRequests: true).Run(arrivals);
        }
        finally
        {
            // A script policy's host process ends with the run.
            (policy as IDisposable)?.Dispose();
        }
    }

    [GeneratedRegex(@"^// expect: (MP4\d{3})(?: \((\d+),(\d+)\))?")]
    private static partial Regex ExpectRegex();

    private sealed class ConstantSteps : IStepTimes
    {
        public double PrefillMilliseconds(int tokens, int sequences, double context) => 1 + (tokens / 1000.0);

        public double DecodeMilliseconds(int sequences, double meanKv) => 2;
    }
}
