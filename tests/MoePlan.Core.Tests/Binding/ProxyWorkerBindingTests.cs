using MoePlan.Core.Compilation;
using MoePlan.Core.Diagnostics;
using MoePlan.Core.Plan;
using MoePlan.Tests.Support;
using Xunit;

namespace MoePlan.Core.Tests.Binding;

/// <summary><c>proxy { workers N  worker_state shared|independent }</c>.</summary>
public sealed class ProxyWorkerBindingTests
{
    private static CompilationResult Compile(string proxy)
    {
        var text = $$"""
            deployment "d" {
              engine vllm
              model deepseek-v3
              precision fp8
              hardware h800
              cluster { nodes 8 }
              prefill { instances 1  parallel { dp 16 ep 16 }  max_batch_tokens 8192 per device }
              decode { instances 1  parallel { dp 32 ep 32 }  max_batch 64 per device  context 4096 }
              proxy { {{proxy}} }
              workload { arrivals poisson 10/s  input fixed 1024  output fixed 128  requests 100 }
            }
            """;
        return PlanCompiler.CompileText("main.moe", text, new MemorySourceResolver(new Dictionary<string, string>()));
    }

    [Fact]
    public void Workers_and_their_state_bind()
    {
        var result = Compile("workers 4  worker_state independent");
        Assert.False(result.HasErrors, string.Join("\n", result.Diagnostics));
        Assert.Equal(4, result.Plan!.Proxy.Workers!.Value.Value);
        Assert.Equal(ProxyWorkerState.Independent, result.Plan.Proxy.WorkerState!.Value.Value);
    }

    [Fact]
    public void Omitted_they_are_absent_meaning_one_shared_worker()
    {
        var result = Compile("policy omni");
        Assert.False(result.HasErrors, string.Join("\n", result.Diagnostics));
        Assert.Null(result.Plan!.Proxy.Workers);
        Assert.Null(result.Plan.Proxy.WorkerState);
    }

    [Theory]
    [InlineData("workers 0", "0")]
    [InlineData("workers 100000000", "100000000")] // over the bound of 1,024 (each independent worker keeps its own view)
    [InlineData("worker_state private", "private")]
    public void Bad_values_are_diagnosed_at_the_value(string setting, string value)
    {
        var result = Compile(setting);
        var error = Assert.Single(result.Diagnostics, d => d.IsError);
        Assert.Null(result.Plan);
        var span = error.Span!.Value;
        // Line 9 is `  proxy { SETTING }`: the diagnostic points at the bad value.
        Assert.Equal(9, span.Line);
        Assert.Equal(value, $"  proxy {{ {setting} }}".Substring(span.Column - 1, value.Length));
    }
}
