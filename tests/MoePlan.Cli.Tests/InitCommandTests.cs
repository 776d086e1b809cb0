using System.Text.Json;
using System.Text.RegularExpressions;
using MoePlan.Tests.Support;
using Xunit;

namespace MoePlan.Cli.Tests;

/// <summary><c>moeplan init</c>: ranked shapes, a written plan that checks, and bad arguments as coded diagnostics.</summary>
public sealed partial class InitCommandTests
{
    private static readonly string[] DeepSeekOn32H800 =
        ["init", "--model", "deepseek-v3", "--devices", "32", "--hardware", "h800", "--input", "4000", "--output", "1000", "--ttft", "2s", "--tpot", "50ms"];

    private static readonly string[] QwenOn16H200 =
    [
        "init", "--model", "qwen3-235b", "--devices", "16", "--hardware", "h200", "--devices-per-node", "8", "--input", "2000", "--output", "500",
        "--ttft", "1000", "--tpot", "40ms", "--rate", "5", "--price", "3.5",
    ];

    private static (JsonElement Report, string PlanText, string Folder) InitToFile(string[] args)
    {
        var folder = Directory.CreateDirectory(CliRunner.TempFolder()).FullName;
        var plan = Path.Combine(folder, "init.moe");
        var (code, output, error) = CliRunner.Run([.. args, "-o", plan, "--format", "json"]);
        Assert.True(code == 0, error);
        Assert.DoesNotContain("   at ", error, StringComparison.Ordinal);
        return (JsonDocument.Parse(output).RootElement.Clone(), File.ReadAllText(plan), folder);
    }

    private static int Setting(string planText, string block, string pattern)
    {
        // The canonical plan has one block per line: `prefill {` ... `}`; the setting is read from that block's text.
        var body = Regex.Match(planText, $@"(?ms)^\s*{block} \{{(.*?)^\s*\}}").Groups[1].Value;
        var m = Regex.Match(body, pattern);
        Assert.True(m.Success, $"{pattern} not in {block}: {body}");
        return int.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
    }

    private static int PoolRanks(JsonElement pool) => pool.GetProperty("instances").GetInt32() * pool.GetProperty("dp").GetInt32() * pool.GetProperty("tp").GetInt32();

    /// <summary>A candidate's pools: prefill and decode, or serve; the others are null.</summary>
    private static List<JsonElement> Pools(JsonElement candidate) =>
        [.. new[] { "prefill", "decode", "serve" }.Select(n => candidate.GetProperty(n)).Where(p => p.ValueKind != JsonValueKind.Null)];

    private static int InstanceRanks(JsonElement pool) => PoolRanks(pool) / pool.GetProperty("instances").GetInt32();

    [Fact]
    public void DeepSeek_V3_on_32_H800_writes_a_plan_that_checks_clean_on_all_32_devices()
    {
        var (report, text, folder) = InitToFile(DeepSeekOn32H800);
        var plan = Path.Combine(folder, "init.moe");
        var (checkCode, checkOut, checkError) = CliRunner.Run("check", plan);
        Assert.True(checkCode == 0, checkError);
        Assert.Equal($"{plan}: ok\n", checkOut);
        Assert.Equal("", checkError); // no warnings either: the chosen shape meets both targets
        Assert.Equal(0, CliRunner.Run("fmt", plan, "--check").ExitCode); // canonical

        // The cluster is the devices asked for: nodes x devices per node = 32 (H800: 8 per node, the catalog's sourced size).
        Assert.Equal(32, Setting(text, "deployment \"[^\"]+\"", @"nodes (\d+)") * Setting(text, "deployment \"[^\"]+\"", @"devices_per_node (\d+)"));

        // DeepSeek-V3's FP8 weights are ~671 GB; an H800 holds 72 GB after its 10% reserve, so an instance needs more than
        // 671 / 72 = 9.3 ranks: 16 (the next size init tries). 32 devices then hold one 16-rank prefill and one 16-rank decode
        // instance, or serve instances of 16 or 32 ranks.
        var candidates = report.GetProperty("candidates").EnumerateArray().ToList();
        Assert.NotEmpty(candidates);
        foreach (var c in candidates)
        {
            var pools = Pools(c);
            var disaggregated = c.GetProperty("kind").GetString() == "disaggregated";
            Assert.Equal(disaggregated ? 2 : 1, pools.Count);
            Assert.Equal(32, pools.Sum(PoolRanks));
            Assert.Equal(32, c.GetProperty("devices").GetInt32());
            foreach (var pool in pools)
            {
                Assert.True(InstanceRanks(pool) >= 16, c.ToString());
                Assert.Equal(pool.GetProperty("dp").GetInt32() * pool.GetProperty("tp").GetInt32(), pool.GetProperty("ep").GetInt32());
            }

            if (disaggregated)
            {
                Assert.Equal(16, PoolRanks(c.GetProperty("prefill")));
            }
        }

        // The written plan is candidate #1: its pools' settings in their blocks.
        var first = candidates[0];
        foreach (var name in new[] { "prefill", "decode", "serve" })
        {
            var pool = first.GetProperty(name);
            Assert.Equal(pool.ValueKind != JsonValueKind.Null, text.Contains($"  {name} {{", StringComparison.Ordinal));
            if (pool.ValueKind == JsonValueKind.Null)
            {
                continue;
            }

            Assert.Equal(pool.GetProperty("instances").GetInt32(), Setting(text, name, @"instances (\d+)"));
            Assert.Equal(pool.GetProperty("dp").GetInt32(), Setting(text, name, @"dp (\d+)"));
            Assert.Equal(pool.GetProperty("tp").GetInt32(), Setting(text, name, @"tp (\d+)"));
            if (pool.GetProperty("max_batch_per_device").ValueKind != JsonValueKind.Null)
            {
                Assert.Equal(pool.GetProperty("max_batch_per_device").GetInt32(), Setting(text, name, @"max_batch (\d+) per device"));
                Assert.Equal(5000, Setting(text, name, @"context (\d+)")); // --input 4000 + --output 1000
            }

            if (pool.GetProperty("max_batch_tokens_per_device").ValueKind != JsonValueKind.Null)
            {
                Assert.Equal(pool.GetProperty("max_batch_tokens_per_device").GetInt32(), Setting(text, name, @"max_batch_tokens (\d+) per device"));
            }
        }

        Assert.Contains("slo { ttft mean < 2000ms  tpot mean < 50ms }", text, StringComparison.Ordinal);
        Assert.Equal(Path.GetFullPath(plan), Path.GetFullPath(report.GetProperty("written").GetString()!));
        Assert.Equal(text, report.GetProperty("plan").GetString());
    }

    [Fact]
    public void The_ranking_agrees_with_the_figures_it_prints_and_the_targets_with_the_cost_verb()
    {
        var (report, _, folder) = InitToFile(QwenOn16H200);
        var candidates = report.GetProperty("candidates").EnumerateArray().ToList();
        Assert.True(candidates.Count >= 2);

        // Meets the targets exactly when the printed TTFT, TPOT and capacity do (1000 ms, 40 ms, 5 req/s).
        foreach (var c in candidates)
        {
            var meets = c.GetProperty("ttft_ms").GetDouble() <= 1000 && c.GetProperty("tpot_ms").GetDouble() <= 40
                        && c.GetProperty("capacity_requests_per_second").GetDouble() >= 5;
            Assert.Equal(meets, c.GetProperty("meets_targets").GetBoolean());
            Assert.Equal(meets, c.GetProperty("misses").GetArrayLength() == 0);
            Assert.Equal(16, Pools(c).Sum(PoolRanks));

            // Qwen3-235B's BF16 weights are ~470 GB; an H200 holds 126.9 GB usable, so no instance has fewer than 4 ranks (470 / 126.9 = 3.7).
            Assert.All(Pools(c), pool => Assert.True(InstanceRanks(pool) >= 4));

            // $ per million output tokens = 16 devices x 3.5 USD/h / 3600 s / (tok/s/device x 16) x 10^6.
            var perDevice = c.GetProperty("output_tokens_per_second_per_device").GetDouble();
            Assert.Equal(3.5 / 3600 / perDevice * 1e6, c.GetProperty("usd_per_million_output_tokens").GetDouble(), 1e-6);
        }

        // Those meeting the targets come first, each group by output tokens/s per device, best first.
        var meeting = candidates.TakeWhile(c => c.GetProperty("meets_targets").GetBoolean()).ToList();
        Assert.NotEmpty(meeting);
        Assert.All(candidates.Skip(meeting.Count), c => Assert.False(c.GetProperty("meets_targets").GetBoolean()));
        foreach (var group in new[] { meeting, candidates.Skip(meeting.Count).ToList() })
        {
            var rates = group.Select(c => c.GetProperty("output_tokens_per_second_per_device").GetDouble()).ToList();
            Assert.Equal(rates.OrderDescending(), rates);
        }

        // `moeplan cost` on the written plan prints the figures init printed for candidate #1.
        var (code, output, error) = CliRunner.Run("cost", Path.Combine(folder, "init.moe"), "--format", "json");
        Assert.True(code == 0, error);
        var cost = JsonDocument.Parse(output).RootElement;
        Assert.Equal(candidates[0].GetProperty("ttft_ms").GetDouble(), cost.GetProperty("prefill").GetProperty("ttft_ms").GetDouble(), 0.001);
        Assert.Equal(candidates[0].GetProperty("tpot_ms").GetDouble(), cost.GetProperty("decode").GetProperty("tpot_ms").GetDouble(), 0.001);
    }

    [Fact]
    public void When_no_shape_meets_the_targets_it_says_so_and_writes_the_fastest_with_its_warning()
    {
        // No decode step of DeepSeek-V3 takes under 1 ms: reading 37 B active FP8 parameters per token alone is beyond that.
        var (report, _, folder) = InitToFile([.. DeepSeekOn32H800[..^1], "1ms"]);
        Assert.Equal(0, report.GetProperty("shapes_meeting_targets").GetInt32());
        var candidates = report.GetProperty("candidates").EnumerateArray().ToList();
        Assert.All(candidates, c => Assert.Contains(c.GetProperty("misses").EnumerateArray(), m => m.GetString()!.StartsWith("TPOT", StringComparison.Ordinal)));
        var rates = candidates.Select(c => c.GetProperty("output_tokens_per_second_per_device").GetDouble()).ToList();
        Assert.Equal(rates.OrderDescending(), rates);

        var (checkCode, checkOut, checkError) = CliRunner.Run("check", Path.Combine(folder, "init.moe"));
        Assert.True(checkCode == 0, checkError); // a warning, not an error
        Assert.Contains("warning MP3019", checkOut, StringComparison.Ordinal);

        var (_, text, _) = CliRunner.Run([.. DeepSeekOn32H800[..^1], "1ms"]);
        Assert.Contains("no shape meets the targets", text, StringComparison.Ordinal);
    }

    [Fact]
    public void Aggregated_and_disaggregated_shapes_are_compared_and_either_kind_is_written_as_a_plan_that_checks()
    {
        string[] qwenOn8 = ["init", "--model", "qwen3-235b", "--devices", "8", "--hardware", "h200", "--devices-per-node", "8", "--input", "2000", "--output", "500", "--tpot", "50ms"];
        var (both, _, _) = InitToFile(qwenOn8);
        var kinds = both.GetProperty("candidates").EnumerateArray().Select(c => c.GetProperty("kind").GetString()).ToHashSet();
        Assert.Equal(["aggregated", "disaggregated"], kinds.Order(StringComparer.Ordinal));
        Assert.True(both.GetProperty("aggregated_shapes").GetInt32() > 0);
        Assert.True(both.GetProperty("shapes").GetInt32() > both.GetProperty("aggregated_shapes").GetInt32());

        foreach (var kind in new[] { "aggregated", "disaggregated" })
        {
            var (report, text, folder) = InitToFile([.. qwenOn8, "--kind", kind]);
            var candidates = report.GetProperty("candidates").EnumerateArray().ToList();
            Assert.All(candidates, c => Assert.Equal(kind, c.GetProperty("kind").GetString()));
            var (code, output, error) = CliRunner.Run("check", Path.Combine(folder, "init.moe"));
            Assert.True(code == 0, error);
            Assert.DoesNotContain("warning", output, StringComparison.Ordinal);

            // The written workload runs in the simulation: every one of the first 40 requests completes.
            var (runCode, run, runError) = CliRunner.Run("run", Path.Combine(folder, "init.moe"), "--max-requests", "40", "--format", "json");
            Assert.True(runCode == 0, runError);
            Assert.Equal(40, JsonDocument.Parse(run).RootElement.GetProperty("requests").GetProperty("completed").GetInt32());
            if (kind == "aggregated")
            {
                // One serve pool of all 8 GPUs' ranks, as the table printed it; no prefill or decode pool.
                var serve = candidates[0].GetProperty("serve");
                Assert.Equal(serve.GetProperty("instances").GetInt32(), Setting(text, "serve", @"instances (\d+)"));
                Assert.Equal(serve.GetProperty("max_batch_per_device").GetInt32(), Setting(text, "serve", @"max_batch (\d+) per device"));
                Assert.Equal(serve.GetProperty("max_batch_tokens_per_device").GetInt32(), Setting(text, "serve", @"max_batch_tokens (\d+) per device"));
                Assert.Equal(8, PoolRanks(serve));
                Assert.DoesNotContain("prefill {", text, StringComparison.Ordinal);
                Assert.Equal(JsonValueKind.Null, candidates[0].GetProperty("prefill").ValueKind);
            }
            else
            {
                Assert.DoesNotContain("serve {", text, StringComparison.Ordinal);
            }
        }
    }

    [Fact]
    public void A_config_json_model_is_written_as_model_from_a_path_relative_to_the_plan()
    {
        var config = TestData.PathOf("models", "Qwen3-235B-A22B.config.json");
        var args = QwenOn16H200.Select(a => a == "qwen3-235b" ? config : a).ToArray();
        var (_, text, folder) = InitToFile(args);
        var written = Regex.Match(text, "model from \"([^\"]+)\"").Groups[1].Value;
        Assert.Equal(Path.GetFullPath(config), Path.GetFullPath(Path.Combine(folder, written)));
        var (code, _, error) = CliRunner.Run("check", Path.Combine(folder, "init.moe"));
        Assert.True(code == 0, error);
    }

    [Fact]
    public void Output_is_deterministic()
    {
        var first = CliRunner.Run([.. QwenOn16H200, "--format", "json"]);
        var second = CliRunner.Run([.. QwenOn16H200, "--format", "json"]);
        Assert.Equal(0, first.ExitCode);
        Assert.Equal(first.Out, second.Out);
        var text = CliRunner.Run(QwenOn16H200);
        Assert.Equal(text.Out, CliRunner.Run(QwenOn16H200).Out);
        Assert.Contains("plan of shape #1", text.Out, StringComparison.Ordinal);
    }

    public static TheoryData<string, string[], int, string> BadArguments() => new()
    {
        { "MP5610", ["--model", "deepseek-v4", "--devices", "32", "--hardware", "h800", "--input", "100", "--output", "100"], 2, "did you mean" },
        { "MP5610", ["--model", "missing/config.json", "--devices", "32", "--hardware", "h800", "--input", "100", "--output", "100"], 2, "missing/config.json" },
        { "MP5611", ["--model", "deepseek-v3", "--devices", "32", "--hardware", "h2000", "--input", "100", "--output", "100"], 2, "h200" },
        { "MP5612", ["--model", "qwen3-235b", "--devices", "16", "--hardware", "h200", "--input", "100", "--output", "100"], 2, "--devices-per-node" },
        { "MP5613", ["--model", "deepseek-v3", "--devices", "12", "--hardware", "h800", "--input", "100", "--output", "100"], 2, "8 devices per node" },
        // Qwen3-235B's config.json: max_position_embeddings 40960; 40000 + 2000 = 42000 is beyond it.
        { "MP5614", ["--model", "qwen3-235b", "--devices", "16", "--hardware", "h200", "--devices-per-node", "8", "--input", "40000", "--output", "2000"], 2, "42000" },
        // 8 H800 hold 576 GB usable: DeepSeek-V3's 671 GB of FP8 weights fit in no split of them.
        { "MP5615", ["--model", "deepseek-v3", "--devices", "8", "--hardware", "h800", "--input", "100", "--output", "100"], 1, "MP3020" },
        { "MP5616", ["--model", "deepseek-v3", "--devices", "32", "--hardware", "h800", "--input", "0", "--output", "100"], 2, "--input" },
        { "MP5616", ["--model", "deepseek-v3", "--devices", "32", "--hardware", "h800", "--input", "100", "--output", "100", "--ttft", "soon"], 2, "--ttft" },
    };

    [Theory]
    [MemberData(nameof(BadArguments))]
    public void Bad_arguments_are_coded_diagnostics_and_nothing_is_written(string code, string[] args, int exit, string mentions)
    {
        var folder = CliRunner.TempFolder();
        var plan = Path.Combine(folder, "init.moe");
        var (exitCode, output, error) = CliRunner.Run(["init", .. args, "-o", plan]);
        Assert.Equal(exit, exitCode);
        Assert.Contains(code, error, StringComparison.Ordinal);
        Assert.Contains(mentions, error, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", error, StringComparison.Ordinal);
        Assert.Equal("", output);
        Assert.False(File.Exists(plan));
    }

    [Fact]
    public void An_existing_plan_file_is_not_overwritten_without_force()
    {
        var folder = Directory.CreateDirectory(CliRunner.TempFolder()).FullName;
        var plan = Path.Combine(folder, "init.moe");
        File.WriteAllText(plan, "keep");
        var (code, _, error) = CliRunner.Run([.. QwenOn16H200, "-o", plan]);
        Assert.Equal(2, code);
        Assert.Contains("--force", error, StringComparison.Ordinal);
        Assert.Equal("keep", File.ReadAllText(plan));
        Assert.Equal(0, CliRunner.Run([.. QwenOn16H200, "-o", plan, "--force"]).ExitCode);
        Assert.StartsWith("# Written by `moeplan init --model qwen3-235b", File.ReadAllText(plan), StringComparison.Ordinal);
    }
}
