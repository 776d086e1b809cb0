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
        "--vary", "decode.dp=8..48", "--vary", "decode.ep=dp", "--vary", "decode.max_batch=16..128*2", "--vary", "placement.redundant_experts=0,32",
    ];

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
    [InlineData("md", "## Pareto frontier: output tokens/s per rank up, TPOT down")]
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
    }
}
