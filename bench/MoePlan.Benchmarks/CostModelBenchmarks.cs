using BenchmarkDotNet.Attributes;
using MoePlan.Core.Catalog;
using MoePlan.Core.Compilation;
using MoePlan.Core.Cost;
using MoePlan.Core.Plan;
using MoePlan.Core.Text;

namespace MoePlan.Benchmarks;

/// <summary>
/// One full analytic evaluation of a plan (prefill and decode steps, serving figures), the inner loop of
/// design-space search. The placement imbalance is passed in, as search computes it once per shape.
/// </summary>
[ShortRunJob]
[MemoryDiagnoser]
public class CostModelBenchmarks
{
    private DeploymentPlan _plan = null!;
    private CostOptions _options = null!;
    private ModelArchitecture _architecture = null!;
    private ParameterBreakdown _parameters = null!;
    private StepMachine _machine;
    private StepShape _decode;
    private CostEvaluator _evaluator = null!;
    private OpCostBuffer _ops = null!;

    [Params("plans/deepseek-v3-h800.moe", "plans/deepseek-r1-cloudmatrix384.moe")]
    public string Plan { get; set; } = "";

    [GlobalSetup]
    public void Setup()
    {
        var root = RepositoryRoot();
        var compiled = PlanCompiler.Compile(Path.Combine(root, Plan), new DiskResolver(), throughVerification: true);
        _plan = compiled.Plan ?? throw new InvalidOperationException(string.Join("; ", compiled.Diagnostics));
        _options = new CostOptions(PrefillImbalance: 1.0, DecodeImbalance: 1.1);
        _architecture = _plan.Model.Entry.Architecture;
        _parameters = ParameterCounter.Count(_architecture);
        _machine = PlanCostModel.Machine(_plan);
        var d = _plan.Decode;
        _evaluator = new CostEvaluator();
        _ops = new OpCostBuffer();
        _decode = new StepShape(PoolRole.Decode, 96, 96, 4096, d.Parallel.TensorParallel.Value, d.Parallel.DataParallel.Value, d.Parallel.ExpertParallel.Value,
            _architecture.RoutedExperts + _plan.Placement.RedundantExperts.Value, 1.1, d.MicrobatchOverlap.Value, 0);
    }

    /// <summary>Both phases and the serving figures.</summary>
    [Benchmark]
    public double FullPlanEvaluation() => PlanCostModel.Evaluate(_plan, _options).GoodputRequestsPerSecond;

    /// <summary>The search's inner loop: the same evaluation as figures only, with one evaluator's buffers reused (no allocation).</summary>
    [Benchmark]
    public double SearchEvaluation() => _evaluator.Evaluate(_plan, _options).GoodputRequestsPerSecond;

    /// <summary>One decode step's totals into a reused op buffer.</summary>
    [Benchmark]
    public double DecodeStepTotals() => StepCostModel.Totals(_architecture, _parameters, _plan.Precision, _decode, _machine, _ops).StepMilliseconds;

    /// <summary>One decode step with the parameter breakdown precomputed.</summary>
    [Benchmark]
    public double DecodeStep() => StepCostModel.Evaluate(_architecture, _parameters, _plan.Precision, _decode, _machine).StepMilliseconds;

    private static string RepositoryRoot()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
        {
            if (File.Exists(Path.Combine(d.FullName, "MoePlan.sln")))
            {
                return d.FullName;
            }
        }

        throw new InvalidOperationException("MoePlan.sln not found");
    }

    private sealed class DiskResolver : ISourceResolver
    {
        public string Resolve(string fromFile, string path) => Path.GetFullPath(Path.Combine(Path.GetDirectoryName(fromFile) ?? ".", path));

        public bool TryRead(string resolvedPath, out string text, out string error)
        {
            error = File.Exists(resolvedPath) ? "" : "no such file";
            text = error.Length == 0 ? File.ReadAllText(resolvedPath) : "";
            return error.Length == 0;
        }
    }
}
