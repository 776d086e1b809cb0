using System.Text.Json;
using MoePlan.Tests.Support;
using Xunit;

namespace MoePlan.Cli.Tests;

public sealed class PlaceCommandTests
{
    private static readonly string H800 = RepositoryPaths.PathOf("plans", "deepseek-v3-h800.moe");
    private static readonly string Tiny = RepositoryPaths.PathOf("plans", "qwen1.5-moe-tiny.moe");

    [Fact]
    public void Text_states_the_pools_shape_and_the_algorithms_metrics()
    {
        var (code, output, _) = CliRunner.Run("place", H800);
        Assert.Equal(0, code);

        // 256 routed + 32 redundant over decode EP 144 on 8-GPU nodes.
        Assert.Contains("decode pool, 256 experts + 32 redundant = 288 slots per layer over 144 ranks (18 nodes x 8), 58 MoE layers", output, StringComparison.Ordinal);
        Assert.Contains("deepseek-v3-sglang-decode_in2000out100.json", output, StringComparison.Ordinal);
        Assert.Matches(@"│ moeplan\s+│ \d\.\d{3}\s+│ \d\.\d{3} \(\d+\)", output);
    }

    [Fact]
    public void Json_has_the_metrics_and_one_entry_per_moe_layer()
    {
        var (code, output, _) = CliRunner.Run("place", H800, "--pool", "prefill", "--algorithm", "eplb-global", "--format", "json");
        Assert.Equal(0, code);
        using var doc = JsonDocument.Parse(output);
        var r = doc.RootElement;
        Assert.Equal("eplb-global", r.GetProperty("algorithm").GetString());
        Assert.Equal("prefill", r.GetProperty("pool").GetString());
        Assert.Equal(32, r.GetProperty("devices").GetInt32());
        var mean = r.GetProperty("imbalance_mean").GetDouble();
        var max = r.GetProperty("imbalance_max").GetDouble();
        Assert.InRange(mean, 1.0, max);
        Assert.InRange(r.GetProperty("cross_node_fraction").GetDouble(), 0.0, 1.0);
        var layers = r.GetProperty("layers");
        Assert.Equal(58, layers.GetArrayLength());
        Assert.Equal(3, layers[0].GetProperty("layer_id").GetInt32());

        // The mean and the max are over the listed layers.
        var perLayer = layers.EnumerateArray().Select(l => l.GetProperty("imbalance").GetDouble()).ToList();
        Assert.Equal(perLayer.Average(), mean, 5);
        Assert.Equal(perLayer.Max(), max, 6);
    }

    [Fact]
    public void Compare_runs_every_algorithm_as_a_table_and_as_a_json_array()
    {
        string[] algorithms = ["moeplan", "eplb-hierarchical", "eplb-global", "omni"];
        var text = CliRunner.Run("place", H800, "--pool", "prefill", "--compare");
        Assert.Equal(0, text.ExitCode);
        foreach (var name in algorithms)
        {
            Assert.Matches($@"│ {name}\s+│ \d\.\d{{3}}", text.Out);
        }

        var json = CliRunner.Run("place", H800, "--pool", "prefill", "--compare", "--format", "json");
        Assert.Equal(0, json.ExitCode);
        using var doc = JsonDocument.Parse(json.Out);
        var compared = doc.RootElement.GetProperty("results");
        Assert.Equal(algorithms, compared.EnumerateArray().Select(e => e.GetProperty("algorithm").GetString()));
        Assert.All(compared.EnumerateArray(), e => Assert.True(e.GetProperty("imbalance_mean").GetDouble() >= 1.0));
    }

    [Fact]
    public void Output_writes_the_placement_and_both_engine_maps()
    {
        var folder = CliRunner.TempFolder();
        try
        {
            var (code, output, _) = CliRunner.Run("place", H800, "-o", folder);
            Assert.Equal(0, code);
            Assert.Contains("wrote 3 file(s)", output, StringComparison.Ordinal);
            Assert.Equal(
                [".moeplan-output", "placement.json", "sglang-init-expert-location.json", "vllm-ascend-expert-map.json"],
                Directory.GetFiles(folder).Select(Path.GetFileName).Order(StringComparer.Ordinal));

            using var placement = JsonDocument.Parse(File.ReadAllText(Path.Combine(folder, "placement.json")));
            Assert.Equal(144, placement.RootElement.GetProperty("devices").GetInt32());
            Assert.Equal(288, placement.RootElement.GetProperty("physical_experts").GetInt32());

            // vllm-ascend counts MoE layers: 58, each over the 144 ranks with 2 experts each.
            using var vllm = JsonDocument.Parse(File.ReadAllText(Path.Combine(folder, "vllm-ascend-expert-map.json")));
            Assert.Equal(58, vllm.RootElement.GetProperty("moe_layer_count").GetInt32());
            var firstLayer = vllm.RootElement.GetProperty("layer_list")[0];
            Assert.Equal(144, firstLayer.GetProperty("device_count").GetInt32());
            Assert.Equal(2, firstLayer.GetProperty("device_list")[0].GetProperty("device_expert").GetArrayLength());

            // SGLang indexes all 61 layers; the dense layer 0 keeps the default map p -> p mod 256.
            using var sglang = JsonDocument.Parse(File.ReadAllText(Path.Combine(folder, "sglang-init-expert-location.json")));
            var map = sglang.RootElement.GetProperty("physical_to_logical_map");
            Assert.Equal(61, map.GetArrayLength());
            Assert.All(map.EnumerateArray(), row => Assert.Equal(288, row.GetArrayLength()));
            Assert.Equal(0, map[0][256].GetInt32());
            Assert.Equal(Enumerable.Range(0, 256), map[3].EnumerateArray().Select(e => e.GetInt32()).Distinct().Order());
        }
        finally
        {
            if (Directory.Exists(folder))
            {
                Directory.Delete(folder, true);
            }
        }
    }

    [Fact]
    public void A_bad_load_file_is_a_diagnostic_with_its_file_and_line()
    {
        var folder = CliRunner.TempFolder();
        Directory.CreateDirectory(folder);
        try
        {
            var file = Path.Combine(folder, "bad.csv");
            File.WriteAllText(file, "layer,expert,load\n0,0,1\n0,1,-5\n");
            var (code, output, _) = CliRunner.Run("place", Tiny, "--load", file);
            Assert.Equal(1, code);
            Assert.Contains("bad.csv(3,5): error MP5105:", output, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(folder, true);
        }
    }

    [Fact]
    public void Synthetic_loads_name_their_seed_and_the_pools_profile()
    {
        var (code, output, _) = CliRunner.Run("place", Tiny, "--synthetic", "42", "--pool", "prefill");
        Assert.Equal(0, code);
        Assert.Contains("loads: synthetic seed 42, prefill profile", output, StringComparison.Ordinal);
        Assert.Contains("over 4 ranks (1 node x 4)", output, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("--algorithm", "greedy")]
    [InlineData("--load", "x.csv", "--synthetic", "1")]
    [InlineData("--compare", "--algorithm", "omni")]
    [InlineData("--load", "no/such/loads.csv")]
    [InlineData("--pool", "both")]
    public void Usage_errors_exit_2(params string[] options)
    {
        var (code, _, error) = CliRunner.Run(["place", Tiny, .. options]);
        Assert.Equal(2, code);
        Assert.Contains("moeplan: error:", error, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", error, StringComparison.Ordinal);
    }

    [Fact]
    public void An_unknown_algorithm_lists_the_known_ones()
    {
        var (_, _, error) = CliRunner.Run("place", Tiny, "--algorithm", "greedy");
        Assert.Contains("unknown placement algorithm 'greedy'; choose one of: moeplan, eplb-hierarchical, eplb-global, omni", error, StringComparison.Ordinal);
    }
}
