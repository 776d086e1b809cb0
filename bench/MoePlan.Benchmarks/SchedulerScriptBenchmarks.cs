using BenchmarkDotNet.Attributes;
using MoePlan.Core.Plan;
using MoePlan.Core.Workloads;
using MoePlan.Scripting;
using MoePlan.Serving.Proxy;
using MoePlan.Serving.Simulation;

namespace MoePlan.Benchmarks;

/// <summary>
/// Scheduler scripts (docs/scheduler-scripts.md): one routing decision by a script against the same rule built
/// in (least-load: fewest queued prefill tokens, then fewest requests); the script's decision is a round trip to its
/// script host process (the state as a message, the hook run there, the value back and validated). The compile of a script without the
/// cache (check, instrumentation and emit included; Roslyn already JIT-compiled), and a start from the cache.
/// </summary>
[ShortRunJob]
[MemoryDiagnoser]
public class SchedulerScriptBenchmarks
{
    /// <summary>LeastLoadPolicy's prefill rule, as a script.</summary>
    private const string LeastLoadScript = """
        using MoePlan.Scheduling;

        class LeastLoad : Scheduler
        {
            public override int ChoosePrefill(IRequestView request, IClusterState cluster)
            {
                int best = 0;
                for (int p = 1; p < cluster.Prefill.Count; p++)
                {
                    long tokens = cluster.Prefill[p].QueuedTokens, bestTokens = cluster.Prefill[best].QueuedTokens;
                    if (tokens < bestTokens || (tokens == bestTokens && cluster.Prefill[p].Requests < cluster.Prefill[best].Requests))
                    {
                        best = p;
                    }
                }

                return best;
            }
        }

        new LeastLoad()
        """;

    private string _folder = "";
    private string _scriptPath = "";
    private ServingSimulation _simulation = null!;
    private RequestState _request = null!;
    private IRoutingPolicy _builtIn = null!;
    private ScriptPolicy _script = null!;

    [GlobalSetup]
    public void Setup()
    {
        _folder = Path.Combine(Path.GetTempPath(), "moeplan-bench-scripts-" + Environment.ProcessId);
        Directory.CreateDirectory(_folder);
        _scriptPath = Path.Combine(_folder, "least-load.csx");
        File.WriteAllText(_scriptPath, LeastLoadScript);
        var load = SchedulerScriptCompiler.Load(_scriptPath, Path.Combine(_folder, "cache"));
        var compiled = load.Script ?? throw new InvalidOperationException(string.Join("; ", load.Diagnostics));
        // Eight prefill instances, idle: the decision reads every instance's queue.
        var config = new ServingConfig(8, 16384, 1000, 4, 64, 1e6, 1, 1e-3, 61, ProxyMode.Sequential, true, true, 1e-3, null, null);
        _builtIn = new LeastLoadPolicy();
        _script = new ScriptPolicy(compiled, ScriptBudgetOptions.Default, fallback: false);
        _simulation = new ServingSimulation(config, new FixedSteps(), _script);
        _request = new RequestState(new ArrivingRequest(1, 0, 2048, 128, [1, 2, 3, 4]));
        _script.ChoosePrefill(_request, _simulation); // makes the scheduler instance (the script's top level) once
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _script.Dispose();
        Directory.Delete(_folder, recursive: true);
    }

    [Benchmark(Baseline = true)]
    public int DecisionBuiltIn() => _builtIn.ChoosePrefill(_request, _simulation);

    [Benchmark]
    public int DecisionScript() => _script.ChoosePrefill(_request, _simulation);

    /// <summary>Compile, confinement check, instrumentation and emit, without the cache.</summary>
    [Benchmark]
    public int CompileUncached() => SchedulerScriptCompiler.Compile(_scriptPath, LeastLoadScript).Pe!.Length;

    /// <summary>Read, bound, hash and find the cached image (the script host loads it, not moeplan).</summary>
    [Benchmark]
    public bool StartFromCache() => SchedulerScriptCompiler.Load(_scriptPath, Path.Combine(_folder, "cache")).FromCache;

    private sealed class FixedSteps : IStepTimes
    {
        public double PrefillMilliseconds(int tokens, int sequences, double context) => 10;

        public double DecodeMilliseconds(int sequences, double meanKv) => 10;
    }
}
