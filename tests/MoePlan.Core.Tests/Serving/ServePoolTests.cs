using MoePlan.Core.Compilation;
using MoePlan.Core.Plan;
using MoePlan.Tests.Support;
using Xunit;

namespace MoePlan.Core.Tests.Serving;

/// <summary>The aggregated pool, <c>serve { }</c>: binding, the diagnostics of its forms, and its checks.</summary>
public sealed class ServePoolTests
{
    private const string Head = """
        deployment "agg" {
          engine vllm
          model qwen3-235b-a22b
          hardware h200
          cluster { nodes 1  devices_per_node 8 }

        """;

    private const string Serve = """
          serve {
            instances 1
            parallel { tp 8  ep 8 }
            max_batch 16 per device
            context 8192
            max_batch_tokens 1024 per device
          }

        """;

    private const string Disaggregated = """
          prefill {
            instances 1
            parallel { tp 8 }
            max_batch_tokens 2048 per device
          }
          decode {
            instances 1
            parallel { tp 8 }
            max_batch 16 per device
            context 8192
          }

        """;

    private const string Tail = """
          workload {
            arrivals poisson 1/s
            input fixed 2048
            output fixed 512
          }
        }
        """;

    private static CompilationResult Compile(string text) =>
        PlanCompiler.CompileText("agg.moe", text, new MemorySourceResolver(new Dictionary<string, string>()));

    [Fact]
    public void A_serve_block_binds_one_pool_that_is_both_prefill_and_decode()
    {
        var result = Compile(Head + Serve + Tail);

        Assert.False(result.HasErrors, string.Join("\n", result.Diagnostics));
        var plan = result.Plan!;
        Assert.True(plan.IsAggregated);
        var pool = Assert.Single(plan.Pools);
        Assert.Equal(PoolRole.Serve, pool.Role);
        Assert.Same(pool, plan.Serving);
        Assert.Same(pool, plan.Prefill);
        Assert.Same(pool, plan.Decode);
        Assert.Equal(1024, pool.MaxBatchTokensPerDevice!.Value.Value);
        Assert.Equal(16, pool.MaxBatchPerDevice!.Value.Value);
        Assert.Equal(8192, pool.ContextTokens!.Value.Value);
        // One node of 8 GPUs, one instance of TP8: no idle devices (MP3008) as two pools of 8 would need 16.
        Assert.DoesNotContain(result.Diagnostics, d => d.Code is "MP3007" or "MP3008");
    }

    [Fact]
    public void A_disaggregated_plan_is_not_aggregated_and_lists_both_pools()
    {
        var plan = Compile(Head.Replace("nodes 1", "nodes 2", StringComparison.Ordinal) + Disaggregated + Tail).Plan!;

        Assert.False(plan.IsAggregated);
        Assert.Null(plan.Serving);
        Assert.Equal([PoolRole.Prefill, PoolRole.Decode], plan.Pools.Select(p => p.Role));
    }

    [Fact]
    public void Both_forms_is_MP2021_at_serve_with_a_fix_that_removes_it()
    {
        var text = Head + Serve + Disaggregated + Tail;
        var result = Compile(text);

        var diagnostic = Assert.Single(result.Diagnostics, d => d.Code == "MP2021");
        Assert.Equal(6, diagnostic.Span!.Value.Line); // the `serve` line
        Assert.Contains("`prefill` and `decode` written too", diagnostic.Message, StringComparison.Ordinal);
        var edit = Assert.Single(diagnostic.Fix!.Edits);
        var fixedText = text[..edit.Span.Start] + edit.NewText + text[edit.Span.End..];
        Assert.DoesNotContain("serve", fixedText, StringComparison.Ordinal);
    }

    [Fact]
    public void Neither_form_is_one_MP2020_naming_both()
    {
        var result = Compile(Head + Tail);

        var missing = Assert.Single(result.Diagnostics, d => d.Code == "MP2020");
        Assert.Contains("`serve` or `prefill` and `decode`", missing.Message, StringComparison.Ordinal);
        Assert.Contains("serve { ... }", missing.Hint, StringComparison.Ordinal);
    }

    [Fact]
    public void A_serve_block_needs_its_chunked_prefill_budget()
    {
        var result = Compile(Head + Serve.Replace("    max_batch_tokens 1024 per device\n", "", StringComparison.Ordinal) + Tail);

        var missing = Assert.Single(result.Diagnostics, d => d.Code == "MP2020");
        Assert.Equal("`serve` needs `max_batch_tokens`", missing.Message);
    }

    [Fact]
    public void Proxy_mode_in_an_aggregated_plan_is_MP2022_with_a_fix_that_removes_it()
    {
        var text = Head + Serve + "  proxy { mode sequential  policy least-load }\n" + Tail;
        var result = Compile(text);

        var diagnostic = Assert.Single(result.Diagnostics, d => d.Code == "MP2022");
        Assert.Equal(13, diagnostic.Span!.Value.Line); // the `proxy` line
        var edit = Assert.Single(diagnostic.Fix!.Edits);
        var fixedText = text[..edit.Span.Start] + edit.NewText + text[edit.Span.End..];
        Assert.False(Compile(fixedText).HasErrors);
    }

    [Fact]
    public void A_budget_the_decode_batch_fills_is_MP3021()
    {
        // 16 sequences per device x 1 token each = 16 decode tokens per device: a budget of 16 leaves no prompt token.
        var result = Compile(Head + Serve.Replace("max_batch_tokens 1024", "max_batch_tokens 16", StringComparison.Ordinal) + Tail);

        var diagnostic = Assert.Single(result.Diagnostics, d => d.Code == "MP3021");
        Assert.Contains("decode batch alone takes 16 per device", diagnostic.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Serve_memory_holds_the_batch_kv_and_the_budget_activations()
    {
        var plan = Compile(Head + Serve + Tail).Plan!;
        var m = MemoryModel.Compute(plan, plan.Serving!);

        // KV: 16 sequences per GPU x 8 GPUs / dp 1 = 128 sequences x 8192 tokens x 48,128 bytes (one KV head per rank at TP8).
        Assert.Equal(128.0 * 8192 * 48_128, m.KvCacheBytes, 1);
        // Activations: the budget's 1024 x 8 = 8192 tokens of the DP rank; per token (4 x 4096 + 64/8 x (128 + 128)
        // + 2 x 8 x 1536) x 2 bytes = (16,384 + 2,048 + 24,576) x 2 = 86,016 bytes.
        Assert.Equal(8192.0 * 86_016, m.ActivationBytes, 1);
    }

    [Fact]
    public void Too_many_sequences_is_MP3020_at_max_batch_with_a_fix_that_fits()
    {
        var text = Head + Serve.Replace("max_batch 16", "max_batch 200", StringComparison.Ordinal)
            .Replace("max_batch_tokens 1024", "max_batch_tokens 2048", StringComparison.Ordinal) + Tail;
        var result = Compile(text);

        var diagnostic = Assert.Single(result.Diagnostics, d => d.Code == "MP3020");
        Assert.StartsWith("serve needs", diagnostic.Message, StringComparison.Ordinal);
        var edit = Assert.Single(diagnostic.Fix!.Edits);
        var fixedText = text[..edit.Span.Start] + edit.NewText + text[edit.Span.End..];
        Assert.DoesNotContain(Compile(fixedText).Diagnostics, d => d.Code == "MP3020");
    }
}
