using System.Text;
using System.Text.Json;
using MoePlan.Serving.Proxy;
using MoePlan.Serving.Reports;
using MoePlan.Serving.Simulation;
using MoePlan.Serving.Tests.Simulation;
using MoePlan.Tests.Support;

namespace MoePlan.Serving.Tests.Reports;

/// <summary>The serving report's JSON document and files (docs/simulation.md, "Report and progress").</summary>
public sealed class ServingReportTests
{
    private static readonly string Tiny = RepositoryPaths.PathOf("plans", "qwen1.5-moe-tiny.moe");

    /// <summary>The lifecycle stages of docs/simulation.md's table, less <c>done</c> (no time is spent after it).</summary>
    private static readonly string[] Stages =
        ["received", "tokenized", "apc_matched", "prefill_waiting", "prefill_scheduled", "prefilling", "decode_waiting", "decode_scheduled", "decoding"];

    private static ServingSessionResult Serve(params string[] policies) =>
        ServingSession.Serve(new ServingRequest(Tiny, new SimulationFixtures.DiskResolver(), _ => new ServingPolicySet(new PolicyRegistry(), policies)) { MaxRequests = 30 });

    [Fact]
    public void One_policy_has_the_documented_keys_and_its_figures()
    {
        var session = Serve("omni");
        var m = session.Metrics[0];
        using var doc = JsonDocument.Parse(ServingReportJson.Write("tiny.moe", session.Plan!, session.Config!, session.Metrics, compare: false));
        var root = doc.RootElement;
        Assert.Equal(
            ["schema", "plan", "mode", "deployment", "policy", "requests", "duration_s", "events", "ttft_ms", "tpot_ms", "e2e_ms", "throughput", "goodput_requests_per_s", "apc_hit_rate", "stages_ms", "utilization"],
            root.EnumerateObject().Select(p => p.Name));
        Assert.Equal("tiny.moe", root.GetProperty("plan").GetString());
        Assert.Equal("omni", root.GetProperty("policy").GetString());
        Assert.Equal(30, root.GetProperty("requests").GetProperty("arrived").GetInt32());
        Assert.Equal(m.Completed, root.GetProperty("requests").GetProperty("completed").GetInt32());
        Assert.Equal(["count", "p50", "p90", "p99", "mean"], root.GetProperty("ttft_ms").EnumerateObject().Select(p => p.Name));
        Assert.Equal(m.TtftMilliseconds.P99, root.GetProperty("ttft_ms").GetProperty("p99").GetDouble());
        Assert.Equal(Stages, root.GetProperty("stages_ms").EnumerateObject().Select(p => p.Name));
        Assert.Equal(session.Config!.ProxyWorkers, root.GetProperty("deployment").GetProperty("proxy_workers").GetInt32());
        Assert.Equal("shared", root.GetProperty("deployment").GetProperty("worker_state").GetString());
    }

    [Fact]
    public void Comparing_policies_lists_one_entry_per_policy()
    {
        var session = Serve("omni", "round-robin");
        using var doc = JsonDocument.Parse(ServingReportJson.Write("tiny.moe", session.Plan!, session.Config!, session.Metrics, compare: true));
        Assert.Equal(["schema", "plan", "mode", "deployment", "policies"], doc.RootElement.EnumerateObject().Select(p => p.Name));
        Assert.Equal(["omni", "round-robin"], doc.RootElement.GetProperty("policies").EnumerateArray().Select(p => p.GetProperty("policy").GetString()));
    }

    [Fact]
    public void Figures_that_do_not_exist_are_null()
    {
        // A run in which nothing completed: no percentiles, no stage means, no arrival window.
        var session = Serve("omni");
        var none = new LatencySummary(0, double.NaN, double.NaN, double.NaN, double.NaN);
        var empty = new ServingMetrics("omni", 1, 0, 1, 0, none, none, none, 0, 0, 0, 0, 0, Enumerable.Repeat(double.NaN, Stages.Length + 1).ToArray(), [0.0], [0.0])
        {
            OutputTokensPerSecondWhileArriving = double.NaN,
        };
        using var doc = JsonDocument.Parse(ServingReportJson.Write("tiny.moe", session.Plan!, session.Config!, [empty], compare: false));
        var root = doc.RootElement;
        foreach (var latency in new[] { "ttft_ms", "tpot_ms", "e2e_ms" })
        {
            Assert.Equal(0, root.GetProperty(latency).GetProperty("count").GetInt32());
            foreach (var stat in new[] { "p50", "p90", "p99", "mean" })
            {
                Assert.Equal(JsonValueKind.Null, root.GetProperty(latency).GetProperty(stat).ValueKind);
            }
        }

        Assert.All(root.GetProperty("stages_ms").EnumerateObject(), s => Assert.Equal(JsonValueKind.Null, s.Value.ValueKind));
        Assert.Equal(JsonValueKind.Null, root.GetProperty("throughput").GetProperty("output_tokens_per_s_while_arriving").ValueKind);
    }

    [Fact]
    public void Report_files_are_the_summary_plots_and_their_data()
    {
        var session = Serve("omni", "round-robin");
        var files = ServingReport.Files("{}\n", session.Runs);
        string[] expected =
        [
            "e2e-cdf.png", "e2e-cdf.svg", "latency-cdf.csv", "queues-omni.png", "queues-omni.svg", "queues-round-robin.png", "queues-round-robin.svg",
            "queues.csv", "summary.json", "tpot-cdf.png", "tpot-cdf.svg", "ttft-cdf.png", "ttft-cdf.svg",
        ];
        Assert.Equal(expected, files.Keys.Order(StringComparer.Ordinal));
        Assert.Equal("{}\n", Encoding.UTF8.GetString(files["summary.json"]));

        // 1,001 percentiles (0, 0.1, ..., 100) per metric and policy, after the header.
        var cdf = Encoding.UTF8.GetString(files["latency-cdf.csv"]).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal("policy,metric,percentile,ms", cdf[0]);
        Assert.Equal(1001, cdf.Count(l => l.StartsWith("omni,ttft,", StringComparison.Ordinal)));
    }
}
