using System.Text.Json;
using MoePlan.Tests.Support;
using Xunit;

namespace MoePlan.Cli.Tests;

/// <summary>An aggregated plan (<c>serve { }</c>) through every verb that reads a plan: check, cost, run, place (compile:
/// Bundles/AggregatedBundleTests; search: SearchCommandTests).</summary>
public sealed class AggregatedServingCliTests
{
    private static readonly string Aggregated = RepositoryPaths.PathOf("plans", "qwen3-235b-h200-aggregated.moe");

    [Fact]
    public void Check_accepts_the_sample()
    {
        var (code, output, _) = CliRunner.Run("check", Aggregated);
        Assert.Equal(0, code);
        Assert.EndsWith("qwen3-235b-h200-aggregated.moe: ok", output.Trim(), StringComparison.Ordinal);
    }

    [Fact]
    public void Cost_prints_the_mixed_step_and_its_json_the_aggregated_figures()
    {
        var (code, output, _) = CliRunner.Run("cost", Aggregated);
        Assert.Equal(0, code);
        Assert.Contains("serve, full chunk", output, StringComparison.Ordinal);
        Assert.Contains("serve, balanced", output, StringComparison.Ordinal);
        // Per DP rank: 16 x 8 = 128 decode tokens, the budget 1024 x 8 = 8192 less them = 8064 (docs/cost-model.md's example).
        Assert.Contains("a step carries 128 decode tokens", output, StringComparison.Ordinal);
        Assert.Contains("(at most 8064)", output, StringComparison.Ordinal);
        Assert.DoesNotContain("P:D devices", output, StringComparison.Ordinal);

        (code, output, _) = CliRunner.Run("cost", Aggregated, "--format", "json");
        Assert.Equal(0, code);
        var aggregated = JsonDocument.Parse(output).RootElement.GetProperty("aggregated");
        Assert.Equal(8064, aggregated.GetProperty("full_chunk_tokens_per_rank").GetDouble());
        Assert.Equal(0, JsonDocument.Parse(output).RootElement.GetProperty("prefill").GetProperty("kv_transfer_ms").GetDouble());
    }

    [Fact]
    public void Run_serves_every_request_on_the_serve_pool()
    {
        var (code, output, _) = CliRunner.Run("run", Aggregated, "--max-requests", "200", "--format", "json");
        Assert.Equal(0, code);
        var root = JsonDocument.Parse(output).RootElement;
        Assert.Equal("aggregated", root.GetProperty("mode").GetString());

        (code, output, _) = CliRunner.Run("run", Aggregated, "--max-requests", "200");
        Assert.Equal(0, code);
        Assert.Contains("aggregated (chunked prefill, no KV transfer)", output, StringComparison.Ordinal);
        Assert.Contains("requests: 200 arrived, 200 completed, 0 rejected", output, StringComparison.Ordinal);
        Assert.DoesNotContain("decode_scheduled", output, StringComparison.Ordinal);
        Assert.Contains("utilisation: serve", output, StringComparison.Ordinal);
    }

    [Fact]
    public void Place_places_the_serve_pool_and_refuses_a_prefill_pool()
    {
        var (code, output, _) = CliRunner.Run("place", Aggregated, "--pool", "serve");
        Assert.Equal(0, code);
        // 128 experts over TP8 x DP1 = 8 ranks: 16 slots per rank.
        Assert.Contains("serve pool, 128 experts + 0 redundant = 128 slots per layer over 8 ranks (1 node x 8)", output, StringComparison.Ordinal);

        (code, output, _) = CliRunner.Run("place", Aggregated, "--pool", "prefill");
        Assert.Equal(1, code);
        Assert.Contains("it has no prefill pool; place its pool with --pool serve", output, StringComparison.Ordinal);

        (code, output, _) = CliRunner.Run("place", RepositoryPaths.PathOf("plans", "qwen3-235b-h200.moe"), "--pool", "serve");
        Assert.Equal(1, code);
        Assert.Contains("no serve pool", output, StringComparison.Ordinal);
    }
}
