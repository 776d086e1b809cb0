using MoePlan.Core.Compilation;
using MoePlan.Core.Plan;
using MoePlan.Tests.Support;

namespace MoePlan.Proxy.Tests;

/// <summary>Sample plans compiled once per test run.</summary>
internal static class TestPlans
{
    private static readonly Lazy<CompilationResult> LazyTiny = new(() => Compile("plans/qwen1.5-moe-tiny.moe"));
    private static readonly Lazy<CompilationResult> LazyScripted = new(() => Compile("plans/qwen1.5-moe-scripted.moe"));

    /// <summary>1 prefill + 1 decode instance, vLLM, sequential, no APC routing.</summary>
    public static CompilationResult Tiny => LazyTiny.Value;

    /// <summary>4 prefill + 2 decode instances, APC-aware, sequential, the cache-affinity script as its policy.</summary>
    public static CompilationResult Scripted => LazyScripted.Value;

    public static DeploymentPlan Plan(CompilationResult result) =>
        result.Plan ?? throw new InvalidOperationException(string.Join('\n', result.Diagnostics));

    private static CompilationResult Compile(string path) =>
        PlanCompiler.Compile(path, MemorySourceResolver.FromRepository(path));
}
