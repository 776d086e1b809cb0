using System.Text.Json;
using MoePlan.Tests.Support;
using Xunit;

namespace MoePlan.Cli.Tests;

public sealed class SearchCommandTests
{
    private static readonly string V3 = RepositoryPaths.PathOf("plans", "deepseek-v3-h800.moe");

    private static readonly string[] V3On64 =
    [
        "search", V3, "--devices", "64", "--vary", "prefill.instances=1,2", "--vary", "prefill.dp=8,16,32", "--vary", "prefill.ep=dp",
        "--vary", "decode.dp=8..48", "--vary", "decode.ep=dp", "--vary", "decode.max_batch=16..128*2", "--vary", "placement.redundant_experts=0,32", "--confirm-requests", "500",
    ];

    private static readonly string Sweep = RepositoryPaths.PathOf("plans", "search", "deepseek-v3-64xh800.moe");

    /// <summary>Quick confirmation runs: three winners, 300 requests each.</summary>
    private static readonly string[] Quick = ["--top", "3", "--confirm-requests", "300"];

    private static JsonElement Json(params string[] args)
    {
        var (code, output, error) = CliRunner.Run(["search", .. args, "--format", "json"]);
        Assert.True(code == 0, error);
        return JsonDocument.Parse(output).RootElement.Clone();
    }

    [Fact]
    public void Mode_compares_aggregated_and_disaggregated_and_writes_each_winner_in_its_form()
    {
        // The disaggregated Qwen3 sample with its decode batch at 8 per GPU, and the same decode shape as one serve pool.
        var folder = CliRunner.TempFolder();
        var (code, output, error) = CliRunner.Run(["search", RepositoryPaths.PathOf("plans", "qwen3-235b-h200.moe"), "--vary", "mode=disaggregated,aggregated",
            "--vary", "decode.max_batch=8", "--confirm-requests", "100", "-o", folder, "--format", "json"]);
        try
        {
            Assert.True(code == 0, error);
            var root = JsonDocument.Parse(output).RootElement;
            var modes = root.GetProperty("frontier_throughput_tpot").EnumerateArray().Select(c => c.GetProperty("mode").GetString()).ToHashSet();
            Assert.Contains("aggregated", modes);
            var aggregated = root.GetProperty("frontier_throughput_tpot").EnumerateArray().First(c => c.GetProperty("mode").GetString() == "aggregated");
            // Two serve instances of 8 GPUs: the decode pool's shape, counted once.
            Assert.Equal(16, aggregated.GetProperty("devices").GetInt32());

            // Every written plan checks, whichever its form.
            var written = Directory.GetFiles(folder, "*.moe");
            Assert.NotEmpty(written);
            var (checkCode, checkOutput, _) = CliRunner.Run(["check", .. written]);
            Assert.True(checkCode == 0, checkOutput);
        }
        finally
        {
            if (Directory.Exists(folder))
            {
                Directory.Delete(folder, recursive: true);
            }
        }
    }

    [Fact]
    public void A_base_plan_that_does_not_check_is_searched_from_its_first_variation_that_does()
    {
        // max_batch 4096 per device needs 657 GB of KV cache per H100 (MP3020); --vary decode.max_batch=64,128 covers the fix.
        var folder = Directory.CreateDirectory(CliRunner.TempFolder()).FullName;
        var plan = Path.Combine(folder, "too-big.moe");
        File.WriteAllText(plan, File.ReadAllText(RepositoryPaths.PathOf("plans", "deepseek-v3-sglang-h100.moe"))
            .Replace("max_batch 256 per device", "max_batch 4096 per device", StringComparison.Ordinal));
        var (refused, _, refusal) = CliRunner.Run(["search", plan, "--no-confirm"]);
        Assert.Equal(1, refused); // nothing varies the batch: the error stands
        Assert.Contains("MP3020", refusal, StringComparison.Ordinal);

        var (code, output, error) = CliRunner.Run(["search", plan, "--no-confirm", "--vary", "decode.max_batch=64,128", "--format", "json", "-o", Path.Combine(folder, "out")]);
        Assert.True(code == 0, error);
        Assert.Contains("MP3020", error, StringComparison.Ordinal);
        Assert.Contains("starts from its first variation that does: decode.max_batch 64", error, StringComparison.Ordinal);
        var top = JsonDocument.Parse(output).RootElement.GetProperty("top").EnumerateArray()
            .Select(c => c.GetProperty("decode").GetProperty("max_batch").GetInt32()).Order().ToList();
        Assert.Equal([64, 128], top);

        // The winners are written from the written plan with their own batch, not the start's or the written one's.
        var written = Directory.GetFiles(Path.Combine(folder, "out"), "*.moe").Select(File.ReadAllText).ToList();
        Assert.Equal(2, written.Count);
        Assert.Contains(written, t => t.Contains("max_batch 128 per device", StringComparison.Ordinal));
        Assert.Contains(written, t => t.Contains("max_batch 64 per device", StringComparison.Ordinal));
        Assert.DoesNotContain(written, t => t.Contains("max_batch 4096", StringComparison.Ordinal));
        Directory.Delete(folder, recursive: true);
    }

    [Fact]
    public void The_plans_sweep_is_searched_and_vary_replaces_or_extends_it()
    {
        // The sweep: prefill.instances 2 x prefill.dp 3 x decode.dp 41 (8 to 48) x decode.max_batch 4 (16 to 128 doubling)
        // x redundant experts 2 x proxy.policy 2 (ep = dp: 1 each) within its `devices 64`.
        var sweep = Json(Sweep, "--no-confirm");
        Assert.Equal(2 * 3 * 41 * 4 * 2 * 2, sweep.GetProperty("candidates").GetInt64());
        Assert.Equal(64, sweep.GetProperty("cluster_devices").GetInt32());
        Assert.Equal(
            ["prefill.instances", "prefill.dp", "prefill.ep", "decode.dp", "decode.ep", "decode.max_batch", "placement.redundant_experts", "proxy.policy"],
            sweep.GetProperty("varied").EnumerateObject().Select(p => p.Name));

        // decode.dp replaced by one value, decode.overlap added with two, --devices over the sweep's.
        var varied = Json(Sweep, "--no-confirm", "--vary", "decode.dp=32", "--vary", "decode.overlap=on,off", "--devices", "48");
        Assert.Equal(2 * 3 * 1 * 4 * 2 * 2 * 2, varied.GetProperty("candidates").GetInt64());
        Assert.Equal(48, varied.GetProperty("cluster_devices").GetInt32());
        Assert.Equal(1, varied.GetProperty("varied").GetProperty("decode.dp").GetInt32());
    }

    [Fact]
    public void Top_candidates_carry_their_own_placement_and_a_simulation_of_the_plans_workload()
    {
        var root = Json([Sweep, .. Quick]);
        Assert.True(root.GetProperty("confirmation").GetProperty("simulated").GetBoolean());
        var top = root.GetProperty("top").EnumerateArray().ToList();
        Assert.Equal(3, top.Count);
        foreach (var c in top)
        {
            var placement = c.GetProperty("placement");
            Assert.InRange(placement.GetProperty("decode_imbalance").GetDouble(), 1.0, 2.0);
            var sim = c.GetProperty("simulation");
            Assert.Equal(300, sim.GetProperty("requests").GetInt32());
            foreach (var figure in new[] { "ttft_mean_ms", "tpot_mean_ms", "output_tokens_per_second_per_rank", "goodput_requests_per_second_per_rank" })
            {
                var f = sim.GetProperty(figure);
                var (a, s) = (f.GetProperty("analytic").GetDouble(), f.GetProperty("simulated").GetDouble());
                Assert.True(s > 0, figure);
                Assert.Equal(Math.Abs(s - a) / a, f.GetProperty("disagreement").GetDouble(), 9);
                var name = figure switch { "ttft_mean_ms" => "TTFT", "tpot_mean_ms" => "TPOT", "output_tokens_per_second_per_rank" => "throughput", _ => "goodput" };
                Assert.Equal(Math.Abs(s - a) / a > 0.25, sim.GetProperty("disagreements").EnumerateArray().Any(d => d.GetString() == name));
            }

            // The analytic figures of the confirmation are the re-placed candidate's.
            Assert.Equal(c.GetProperty("ttft_ms").GetDouble(), sim.GetProperty("ttft_mean_ms").GetProperty("analytic").GetDouble());
            Assert.Equal(c.GetProperty("tpot_ms").GetDouble(), sim.GetProperty("tpot_mean_ms").GetProperty("analytic").GetDouble());
        }
    }

    [Fact]
    public void Rank_by_simulated_orders_by_simulated_goodput_per_rank()
    {
        var top = Json([Sweep, .. Quick, "--rank-by", "simulated"]).GetProperty("top").EnumerateArray().ToList();
        Assert.Equal(3, top.Count);
        for (var i = 1; i < top.Count; i++)
        {
            var (a, b) = (top[i - 1].GetProperty("simulation"), top[i].GetProperty("simulation"));
            var (am, bm) = (a.GetProperty("meets_slos").GetBoolean(), b.GetProperty("meets_slos").GetBoolean());
            var (ag, bg) = (a.GetProperty("goodput_requests_per_second_per_rank").GetProperty("simulated").GetDouble(),
                b.GetProperty("goodput_requests_per_second_per_rank").GetProperty("simulated").GetDouble());
            Assert.True((am && !bm) || (am == bm && ag >= bg), $"#{i}: {ag} then {bg}");
        }
    }

    [Fact]
    public void The_report_is_deterministic_but_for_the_timings()
    {
        static string Stable(JsonElement root) => string.Join("\n", root.EnumerateObject()
            .Where(p => p.Name is not ("seconds" or "candidates_per_second" or "evaluations_per_second"))
            .Select(p => p.Name + "=" + p.Value.GetRawText()));
        Assert.Equal(Stable(Json([Sweep, .. Quick])), Stable(Json([Sweep, .. Quick])));
    }

    [Fact]
    public void No_confirm_skips_the_simulation_and_text_and_markdown_show_it()
    {
        var top = Json([Sweep, .. Quick, "--no-confirm"]).GetProperty("top");
        Assert.All(top.EnumerateArray(), c => Assert.False(c.TryGetProperty("simulation", out _)));
        var (code, output, error) = CliRunner.Run(["search", Sweep, .. Quick, "--format", "md"]);
        Assert.True(code == 0, error);
        Assert.Contains("## top candidates confirmed by simulation", output, StringComparison.Ordinal);
        Assert.Contains("| # | proxy | TTFT mean ms model / sim |", output, StringComparison.Ordinal);
        (code, output, error) = CliRunner.Run(["search", Sweep, .. Quick]);
        Assert.True(code == 0, error);
        Assert.Contains("top candidates confirmed by simulation", output, StringComparison.Ordinal);
        Assert.Contains("each top candidate served the first 300 requests", output, StringComparison.Ordinal);
    }

    [Fact]
    public void Winners_of_a_sweep_plan_pass_check_and_carry_no_sweep()
    {
        var folder = CliRunner.TempFolder();
        var (code, _, error) = CliRunner.Run(["search", Sweep, .. Quick, "-o", folder]);
        Assert.True(code == 0, error);
        var files = Directory.GetFiles(folder, "*.moe");
        Assert.Equal(3, files.Length);
        foreach (var f in files)
        {
            Assert.DoesNotContain("sweep {", File.ReadAllText(f), StringComparison.Ordinal);
            var (checkCode, checkOutput, checkError) = CliRunner.Run("check", f);
            Assert.True(checkCode == 0, checkOutput + checkError);
        }

        Directory.Delete(folder, true);
    }

    [Fact]
    public void DeepSeek_V3_on_64_H800_returns_valid_candidates_within_the_devices()
    {
        var (code, output, error) = CliRunner.Run([.. V3On64, "--top", "4", "--format", "json"]);
        Assert.True(code == 0, error);
        using var doc = JsonDocument.Parse(output);
        var root = doc.RootElement;
        Assert.Equal(64, root.GetProperty("cluster_devices").GetInt32());
        // 2 x 3 x 41 x 4 x 2 candidates, every one enumerated.
        Assert.Equal(2 * 3 * 41 * 4 * 2, root.GetProperty("candidates").GetInt64());
        Assert.Equal(2 * 3 * 41 * 4 * 2, root.GetProperty("enumerated").GetInt64());
        Assert.True(root.GetProperty("valid").GetInt64() > 0);
        Assert.Contains("base plan", root.GetProperty("placement_imbalance").GetProperty("source").GetString(), StringComparison.Ordinal);
        var top = root.GetProperty("top");
        Assert.InRange(top.GetArrayLength(), 1, 4);
        double? previous = null;
        foreach (var c in top.EnumerateArray())
        {
            Assert.True(c.GetProperty("meets_slos").GetBoolean());
            Assert.InRange(c.GetProperty("devices").GetInt32(), 1, 64);
            var prefill = c.GetProperty("prefill");
            var decode = c.GetProperty("decode");
            Assert.Equal(prefill.GetProperty("dp").GetInt32(), prefill.GetProperty("ep").GetInt32());
            Assert.Equal(decode.GetProperty("dp").GetInt32(), decode.GetProperty("ep").GetInt32());
            Assert.Equal(c.GetProperty("devices").GetInt32(),
                (prefill.GetProperty("instances").GetInt32() * prefill.GetProperty("dp").GetInt32() * prefill.GetProperty("tp").GetInt32()) +
                (decode.GetProperty("instances").GetInt32() * decode.GetProperty("dp").GetInt32() * decode.GetProperty("tp").GetInt32()));
            var rate = c.GetProperty("output_tokens_per_second_per_rank").GetDouble();
            Assert.True(previous is null || rate <= previous, "top is ranked by output tokens/s per rank");
            previous = rate;
        }

        Assert.True(root.GetProperty("frontier_throughput_tpot").GetArrayLength() > 0);

        // Every enumerated candidate is valid or rejected for a reason.
        var rejected = root.GetProperty("rejections").EnumerateArray().Sum(r => r.GetProperty("candidates").GetInt64());
        Assert.Equal(root.GetProperty("enumerated").GetInt64(), root.GetProperty("valid").GetInt64() + rejected);
        Assert.Contains(root.GetProperty("rejections").EnumerateArray(), r => r.GetProperty("code").GetString() == "MP3007");
    }

    [Fact]
    public void Written_winners_pass_check()
    {
        var folder = CliRunner.TempFolder();
        var (code, output, error) = CliRunner.Run([.. V3On64, "--top", "3", "-o", folder]);
        Assert.True(code == 0, error);
        var files = Directory.GetFiles(folder, "*.moe").Order(StringComparer.Ordinal).ToArray();
        Assert.Equal(3, files.Length);
        foreach (var f in files)
        {
            Assert.Contains($"wrote {f}", output.Replace(folder + "/", folder + Path.DirectorySeparatorChar, StringComparison.Ordinal), StringComparison.Ordinal);
            var (checkCode, checkOutput, checkError) = CliRunner.Run("check", f);
            Assert.True(checkCode == 0, checkOutput + checkError);
            Assert.Contains("nodes 8", File.ReadAllText(f), StringComparison.Ordinal);
        }

        foreach (var plot in new[] { "frontier-throughput-tpot", "frontier-cost-ttft" })
        {
            var png = File.ReadAllBytes(Path.Combine(folder, plot + ".png"));
            Assert.Equal(new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G' }, png[..4]);
            Assert.Contains("<svg", File.ReadAllText(Path.Combine(folder, plot + ".svg")), StringComparison.Ordinal);
        }

        Directory.Delete(folder, true);
    }

    [Theory]
    [InlineData("text", "Pareto frontiers: throughput/TPOT")]
    [InlineData("md", "## Pareto frontier: output tokens/s per rank up, TPOT down (figures: cost model, base plan's placement imbalance)")]
    public void Text_and_markdown_report_the_counts_and_frontiers(string format, string expected)
    {
        var (code, output, error) = CliRunner.Run([.. V3On64, "--format", format]);
        Assert.True(code == 0, error);
        Assert.Contains(expected, output, StringComparison.Ordinal);
        Assert.Contains("placement imbalance fixed at the base plan's", output, StringComparison.Ordinal);
        Assert.Matches(@"searched 1968 candidates .* within 64 devices", output);
    }

    [Theory]
    [InlineData("unknown name 'decode.pp'", "--vary", "decode.pp=2")]
    [InlineData("'x' is not a non-negative integer", "--vary", "decode.dp=x")]
    [InlineData("is not on or off", "--vary", "decode.overlap=maybe")]
    [InlineData("no `mtp { draft_tokens N acceptance X }` block", "--vary", "decode.mtp=on,off")]
    [InlineData("'decode.dp' is given more than once", "--vary", "decode.dp=8", "--vary", "decode.dp=16")]
    [InlineData("not a positive multiple of the plan's 8 devices per node", "--devices", "63")]
    [InlineData("--top 0", "--top", "0")]
    [InlineData("--confirm-requests 0: must be at least 1", "--confirm-requests", "0")]
    [InlineData("--rank-by simulated needs the simulation", "--rank-by", "simulated", "--no-confirm")]
    [InlineData("--disagreement 0: must be above 0", "--disagreement", "0")]
    [InlineData("step` follows a range", "--vary", "decode.dp=8 step 2")]
    public void Bad_arguments_exit_2_with_a_clear_message(string message, params string[] args)
    {
        var (code, output, error) = CliRunner.Run(["search", V3, .. args]);
        Assert.Equal(2, code);
        Assert.Contains(message, error, StringComparison.Ordinal);
        Assert.Equal("", output);
        Assert.DoesNotContain("   at ", error, StringComparison.Ordinal);
    }

    [Fact]
    public void A_plan_with_errors_exits_1_and_a_missing_plan_exits_2()
    {
        var invalid = RepositoryPaths.PathOf("tests", "MoePlan.Core.Tests", "Baselines", "Invalid", "MP2003-unknown-model.moe");
        Assert.Equal(1, CliRunner.Run("search", invalid, "--vary", "decode.dp=8").ExitCode);
        Assert.Equal(2, CliRunner.Run("search", "no/such/plan.moe").ExitCode);
        var badSweep = RepositoryPaths.PathOf("tests", "MoePlan.Core.Tests", "Baselines", "Invalid", "MP2030-sweep-empty-range.moe");
        var (code, _, error) = CliRunner.Run("search", badSweep);
        Assert.Equal(1, code);
        Assert.Contains("MP2030", error, StringComparison.Ordinal);
    }

    [Fact]
    public void A_scheduler_script_policy_is_confirmed_with_the_script()
    {
        // The scripted plan's policy is plans/schedulers/cache-affinity.csx: the search compiles it and the
        // simulation of each winner runs it (the policy name is the script's file name), rather than skipping.
        var scripted = RepositoryPaths.PathOf("plans", "qwen1.5-moe-scripted.moe");
        var top = Json(scripted, "--vary", "decode.max_batch=8,16", "--top", "2", "--confirm-requests", "100").GetProperty("top").EnumerateArray().ToList();
        Assert.NotEmpty(top);
        foreach (var c in top)
        {
            var sim = c.GetProperty("simulation");
            Assert.False(sim.TryGetProperty("skipped", out _));
            Assert.Equal("cache-affinity.csx", sim.GetProperty("policy").GetString());
            Assert.Equal(100, sim.GetProperty("completed").GetInt32());
        }
    }
}
