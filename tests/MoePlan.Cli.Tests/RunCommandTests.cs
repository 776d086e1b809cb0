using System.Text.Json;
using MoePlan.Tests.Support;
using Xunit;

namespace MoePlan.Cli.Tests;

/// <summary><c>moeplan run</c> without --functional: the serving simulation.</summary>
public sealed class RunCommandTests
{
    private static readonly string Tiny = RepositoryPaths.PathOf("plans", "qwen1.5-moe-tiny.moe");

    public static TheoryData<string> SamplePlans()
    {
        var data = new TheoryData<string>();
        foreach (var file in Directory.GetFiles(RepositoryPaths.PathOf("plans"), "*.moe").Order(StringComparer.Ordinal))
        {
            data.Add(Path.GetFileName(file));
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(SamplePlans))]
    public void Every_sample_plan_serves_and_prints_a_summary(string plan)
    {
        var (code, output, error) = CliRunner.Run("run", RepositoryPaths.PathOf("plans", plan), "--max-requests", "40");
        Assert.True(code == 0, error + output);
        Assert.Contains("serving simulation, policy", output, StringComparison.Ordinal);
        Assert.Contains("TTFT", output, StringComparison.Ordinal);
        Assert.Contains("40 arrived", output, StringComparison.Ordinal);
        Assert.Contains("APC hit rate", output, StringComparison.Ordinal);
    }

    [Fact]
    public void Json_has_the_documented_fields()
    {
        var (code, output, error) = CliRunner.Run("run", Tiny, "--max-requests", "50", "--format", "json");
        Assert.True(code == 0, error);
        using var doc = JsonDocument.Parse(output);
        var root = doc.RootElement;
        Assert.Equal(50, root.GetProperty("requests").GetProperty("completed").GetInt32() + root.GetProperty("requests").GetProperty("rejected").GetInt32());
        foreach (var name in new[] { "ttft_ms", "tpot_ms", "e2e_ms" })
        {
            var s = root.GetProperty(name);
            foreach (var stat in new[] { "p50", "p90", "p99", "mean" })
            {
                Assert.True(s.GetProperty(stat).GetDouble() > 0, $"{name}.{stat}");
            }

            Assert.True(s.GetProperty("p50").GetDouble() <= s.GetProperty("p99").GetDouble());
        }

        Assert.True(root.GetProperty("throughput").GetProperty("output_tokens_per_s").GetDouble() > 0);
        Assert.InRange(root.GetProperty("apc_hit_rate").GetDouble(), 0, 1);
        Assert.True(root.GetProperty("goodput_requests_per_s").GetDouble() >= 0);
        Assert.Equal(9, root.GetProperty("stages_ms").EnumerateObject().Count());
        Assert.True(root.GetProperty("stages_ms").GetProperty("prefilling").GetDouble() > 0);
    }

    [Fact]
    public void Same_seed_gives_identical_json_and_another_seed_does_not()
    {
        string Run(string seed) => CliRunner.Run("run", Tiny, "--max-requests", "60", "--seed", seed, "--format", "json").Out;
        Assert.Equal(Run("5"), Run("5"));
        Assert.NotEqual(Run("5"), Run("6"));
    }

    [Fact]
    public void Compare_policies_prints_one_table_with_every_built_policy()
    {
        var trace = RepositoryPaths.PathOf("plans", "data", "mooncake_synthetic_trace.jsonl");
        var (code, output, error) = CliRunner.Run("run", RepositoryPaths.PathOf("plans", "deepseek-v3-h800.moe"), "--trace", trace, "--max-requests", "300", "--compare-policies");
        Assert.True(code == 0, error);
        foreach (var policy in new[] { "omni", "round-robin", "least-load", "cache-aware", "global-proxy", "kv-cost" })
        {
            Assert.Contains("│ " + policy + " ", output, StringComparison.Ordinal);
        }

        Assert.Contains("same arrivals", output, StringComparison.Ordinal);
    }

    [Fact]
    public void The_azure_trace_runs_from_the_command_line()
    {
        var trace = RepositoryPaths.PathOf("plans", "data", "azure_llm_inference_trace_code.csv");
        var (code, output, error) = CliRunner.Run("run", Tiny, "--trace", trace, "--max-requests", "100", "--format", "json");
        Assert.True(code == 0, error);
        using var doc = JsonDocument.Parse(output);
        Assert.Equal(100, doc.RootElement.GetProperty("requests").GetProperty("arrived").GetInt32());
    }

    [Fact]
    public void A_policy_not_built_is_a_clear_usage_error()
    {
        var (code, _, error) = CliRunner.Run("run", Tiny, "--policy", "script");
        Assert.Equal(2, code);
        Assert.Contains("a script policy needs its file", error, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", error, StringComparison.Ordinal);
        (code, _, error) = CliRunner.Run("run", Tiny, "--policy", "random");
        Assert.Equal(2, code);
        Assert.Contains("unknown proxy policy 'random'", error, StringComparison.Ordinal);
    }

    [Fact]
    public void A_plan_with_a_trace_workload_serves_the_trace()
    {
        var folder = CliRunner.TempFolder();
        Directory.CreateDirectory(folder);
        var text = File.ReadAllText(Tiny);
        var trace = RepositoryPaths.PathOf("plans", "data", "mooncake_synthetic_trace.jsonl").Replace('\\', '/');
        text = text[..text.IndexOf("  workload {", StringComparison.Ordinal)] + $"  workload {{\n    trace \"{trace}\" format mooncake\n  }}\n}}\n";
        // The trace's p99 prompt + output is 66,468 tokens (MP3060 below that); one such sequence per device fits memory.
        text = text.Replace("max_batch 16 per device", "max_batch 1 per device", StringComparison.Ordinal)
            .Replace("context 2048", "context 67584", StringComparison.Ordinal);
        var plan = Path.Combine(folder, "traced.moe");
        File.WriteAllText(plan, text);
        var (code, output, error) = CliRunner.Run("run", plan, "--max-requests", "30", "--format", "json");
        Assert.True(code == 0, error + output);
        using var doc = JsonDocument.Parse(output);
        Assert.Equal(30, doc.RootElement.GetProperty("requests").GetProperty("arrived").GetInt32());
    }

    [Fact]
    public void A_malformed_trace_prints_its_diagnostics_and_exits_1()
    {
        var folder = CliRunner.TempFolder();
        Directory.CreateDirectory(folder);
        var trace = Path.Combine(folder, "bad.jsonl");
        File.WriteAllText(trace, "{\"timestamp\": 0, \"input_length\": 600, \"output_length\": 5, \"hash_ids\": [7, 8]}\n{\"timestamp\": 1,\n");
        var (code, _, error) = CliRunner.Run("run", Tiny, "--trace", trace);
        Assert.Equal(1, code);
        Assert.Contains("bad.jsonl(2,1): error MP5310", error, StringComparison.Ordinal);
    }

    [Fact]
    public void Help_has_examples_of_the_serving_simulation()
    {
        var (code, output, _) = CliRunner.Run("run", "--help");
        Assert.Equal(0, code);
        Assert.Contains("Examples:", output, StringComparison.Ordinal);
        Assert.Contains("moeplan run plans/qwen1.5-moe-tiny.moe --trace", output, StringComparison.Ordinal);
        Assert.Contains("--compare-policies", output, StringComparison.Ordinal);
    }

    [Fact]
    public void Functional_still_works()
    {
        var (code, output, _) = CliRunner.Run("run", Tiny, "--functional");
        Assert.Equal(0, code);
        Assert.Contains("passed:", output, StringComparison.Ordinal);
    }

    [Fact]
    public void Report_writes_plots_csv_and_the_json_summary_deterministically()
    {
        var first = Path.Combine(CliRunner.TempFolder(), "report");
        var second = Path.Combine(CliRunner.TempFolder(), "report");
        var (code, output, error) = CliRunner.Run("run", Tiny, "--max-requests", "60", "--report", first);
        Assert.True(code == 0, error + output);
        Assert.Contains("report: ", output, StringComparison.Ordinal);
        (code, var json, error) = CliRunner.Run("run", Tiny, "--max-requests", "60", "--report", second, "--format", "json");
        Assert.True(code == 0, error);
        var names = new[]
        {
            "summary.json", "latency-cdf.csv", "queues.csv",
            "ttft-cdf.png", "ttft-cdf.svg", "tpot-cdf.png", "tpot-cdf.svg", "e2e-cdf.png", "e2e-cdf.svg", "queues.png", "queues.svg",
        };
        // Besides the report, the ownership manifest that --force checks (BundleDirectory).
        Assert.Equal(names.Append(".moeplan-output").Order(StringComparer.Ordinal), Directory.GetFiles(first).Select(Path.GetFileName).Order(StringComparer.Ordinal));
        foreach (var name in names)
        {
            // Same plan and seed: byte-identical files, SVG and PNG included.
            Assert.True(File.ReadAllBytes(Path.Combine(first, name)).SequenceEqual(File.ReadAllBytes(Path.Combine(second, name))), name);
        }

        Assert.Equal(json.Trim(), File.ReadAllText(Path.Combine(first, "summary.json")).Trim());
        Assert.Contains("<svg xmlns=\"http://www.w3.org/2000/svg\"", File.ReadAllText(Path.Combine(first, "ttft-cdf.svg")), StringComparison.Ordinal);
        Assert.True(File.ReadAllBytes(Path.Combine(first, "queues.png")).AsSpan(0, 8).SequenceEqual(new byte[] { 0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A }));

        // The CDF data: 1,001 percentiles per metric, the 50th equal to the summary's p50 (both exact at this size).
        var ttft = File.ReadLines(Path.Combine(first, "latency-cdf.csv")).Skip(1).Where(l => l.Contains(",ttft,", StringComparison.Ordinal)).ToList();
        Assert.Equal(1001, ttft.Count);
        using var doc = JsonDocument.Parse(json);
        double p50 = double.Parse(ttft[500].Split(',')[3], System.Globalization.CultureInfo.InvariantCulture);
        Assert.Equal(doc.RootElement.GetProperty("ttft_ms").GetProperty("p50").GetDouble(), p50);

        // A non-empty report folder is not replaced without --force, and nothing half-written is left.
        (code, _, error) = CliRunner.Run("run", Tiny, "--max-requests", "60", "--report", first);
        Assert.Equal(2, code);
        Assert.Contains("--force", error, StringComparison.Ordinal);
    }

    [Fact]
    public void Proxy_workers_can_be_set_on_the_command_line()
    {
        var (code, output, error) = CliRunner.Run("run", Tiny, "--max-requests", "40", "--proxy-workers", "3", "--worker-state", "independent", "--format", "json");
        Assert.True(code == 0, error);
        using var doc = JsonDocument.Parse(output);
        var deployment = doc.RootElement.GetProperty("deployment");
        Assert.Equal(3, deployment.GetProperty("proxy_workers").GetInt32());
        Assert.Equal("independent", deployment.GetProperty("worker_state").GetString());
        Assert.Equal(40, doc.RootElement.GetProperty("requests").GetProperty("arrived").GetInt32());

        // From the plan's proxy block; the command line overrides it.
        var folder = CliRunner.TempFolder();
        Directory.CreateDirectory(folder);
        var plan = Path.Combine(folder, "tiny-workers.moe");
        File.WriteAllText(plan, File.ReadAllText(Tiny).Replace("  workload {", "  proxy { workers 2  worker_state independent }\n\n  workload {", StringComparison.Ordinal));
        (code, output, error) = CliRunner.Run("run", plan, "--max-requests", "40", "--format", "json");
        Assert.True(code == 0, error);
        using (var fromPlan = JsonDocument.Parse(output))
        {
            Assert.Equal(2, fromPlan.RootElement.GetProperty("deployment").GetProperty("proxy_workers").GetInt32());
            Assert.Equal("independent", fromPlan.RootElement.GetProperty("deployment").GetProperty("worker_state").GetString());
        }

        (code, output, _) = CliRunner.Run("run", plan, "--max-requests", "40", "--worker-state", "shared");
        Assert.Equal(0, code);
        Assert.Contains("2 proxy worker(s) with shared state", output, StringComparison.Ordinal);

        (code, _, error) = CliRunner.Run("run", Tiny, "--proxy-workers", "0");
        Assert.Equal(2, code);
        Assert.Contains("--proxy-workers must be 1 to 1024", error, StringComparison.Ordinal);
        (code, _, error) = CliRunner.Run("run", Tiny, "--proxy-workers", "100000000", "--worker-state", "independent");
        Assert.Equal(2, code);
        Assert.Contains("--proxy-workers must be 1 to 1024", error, StringComparison.Ordinal);
        (code, _, _) = CliRunner.Run("run", Tiny, "--worker-state", "private");
        Assert.Equal(2, code);
    }
}
