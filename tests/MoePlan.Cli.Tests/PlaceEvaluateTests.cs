using System.Globalization;
using System.Text;
using System.Text.Json;
using MoePlan.Tests.Support;
using Xunit;

namespace MoePlan.Cli.Tests;

/// <summary>
/// <c>place --evaluate</c> on the tiny plan: Qwen1.5-MoE (24 MoE layers, 60 experts), 64 slots over 4 ranks of 16 on
/// one node. Placed on A (experts 0-3 load 100, the rest 1), every algorithm gives the 4 redundant slots to experts 0-3
/// (100 / 2 = 50 still beats 1) and, to balance A exactly (456 / 4 = 114 per rank), puts two 50-copies and fourteen
/// 1-copies on each rank. Measured on B (every expert 1): each rank 2 x 0.5 + 14 = 15 = the mean, imbalance 1.
/// Measured on C (layer 0: only expert 4, load 8; layers 1-23: only expert 0, load 8): layer 0's single copy carries 8
/// against a mean of 2 (imbalance 4); elsewhere expert 0's two copies carry 4 each against 2 (imbalance 2).
/// C: mean (4 + 23 x 2) / 24 = 50/24, max 4 at layer 0, overall (8 + 23 x 4) / (24 x 2) = 100/48. One node: no
/// dispatch crosses. The three files use the three formats (CSV, JSON table, SGLang).
/// </summary>
public sealed class PlaceEvaluateTests : IDisposable
{
    private static readonly string Tiny = RepositoryPaths.PathOf("plans", "qwen1.5-moe-tiny.moe");
    private readonly string _folder = CliRunner.TempFolder();

    public PlaceEvaluateTests()
    {
        Directory.CreateDirectory(_folder);
        var csv = new StringBuilder("layer,expert,load\n");
        for (var layer = 0; layer < 24; layer++)
        {
            for (var e = 0; e < 60; e++)
            {
                csv.Append(CultureInfo.InvariantCulture, $"{layer},{e},{(e < 4 ? 100 : 1)}\n");
            }
        }

        File.WriteAllText(A, csv.ToString());
        File.WriteAllText(B, "[\n" + string.Join(",\n", Enumerable.Repeat("[" + string.Join(", ", Enumerable.Repeat("1", 60)) + "]", 24)) + "\n]\n");
        var rows = Enumerable.Range(0, 24).Select(layer =>
            "[" + string.Join(", ", Enumerable.Range(0, 60).Select(e => e == (layer == 0 ? 4 : 0) ? "8" : "0")) + "]");
        File.WriteAllText(C, "{\"logical_count\": [" + string.Join(", ", rows) + "]}\n");
    }

    private string A => Path.Combine(_folder, "a.csv");

    private string B => Path.Combine(_folder, "b.json");

    private string C => Path.Combine(_folder, "c-sglang.json");

    public void Dispose() => Directory.Delete(_folder, true);

    [Fact]
    public void Every_algorithm_is_measured_per_file_and_on_the_mean()
    {
        var (code, output, _) = CliRunner.Run("place", Tiny, "--load", A, "--evaluate", B, C, "--compare", "--format", "json");
        Assert.Equal(0, code);
        using var doc = JsonDocument.Parse(output);
        var results = doc.RootElement.GetProperty("results");
        Assert.Equal(4, results.GetArrayLength());
        foreach (var algorithm in results.EnumerateArray())
        {
            var name = algorithm.GetProperty("algorithm").GetString();
            Assert.Equal(1.0, algorithm.GetProperty("imbalance_mean").GetDouble(), 6);
            var evaluation = algorithm.GetProperty("evaluation");
            var loads = evaluation.GetProperty("loads");
            Assert.Equal([B, C], loads.EnumerateArray().Select(l => l.GetProperty("loads").GetString()));

            var b = loads[0];
            Assert.True(Math.Abs(b.GetProperty("imbalance_mean").GetDouble() - 1.0) < 1e-6, name);
            Assert.Equal(1.0, b.GetProperty("imbalance_max").GetDouble(), 6);
            Assert.Equal(0.0, b.GetProperty("cross_node_fraction").GetDouble(), 6);

            var c = loads[1];
            Assert.Equal(50.0 / 24, c.GetProperty("imbalance_mean").GetDouble(), 6);
            Assert.Equal(4.0, c.GetProperty("imbalance_max").GetDouble(), 6);
            Assert.Equal(0, c.GetProperty("imbalance_max_layer").GetInt32());
            Assert.Equal(100.0 / 48, c.GetProperty("imbalance_overall").GetDouble(), 6);

            var mean = evaluation.GetProperty("mean");
            Assert.Equal((1.0 + (50.0 / 24)) / 2, mean.GetProperty("imbalance_mean").GetDouble(), 6);
            Assert.Equal((1.0 + 4.0) / 2, mean.GetProperty("imbalance_max").GetDouble(), 6);
            Assert.Equal((1.0 + (100.0 / 48)) / 2, mean.GetProperty("imbalance_overall").GetDouble(), 6);
            Assert.Equal(0.0, mean.GetProperty("cross_node_fraction").GetDouble(), 6);
        }
    }

    [Fact]
    public void Text_prints_a_second_table_with_one_row_per_file_and_the_mean()
    {
        var (code, output, _) = CliRunner.Run("place", Tiny, "--load", A, "--evaluate", B, C, "--algorithm", "omni");
        Assert.Equal(0, code);
        Assert.Contains("evaluated on other loads", output, StringComparison.Ordinal);
        Assert.Matches(@"│ omni\s+│ \S*c-sglang\.json\s+│ 2\.083\s+│ 4\.000 \(0\)\s+│ 2\.083\s+│ 0\.0%", output);
        Assert.Matches(@"│ omni\s+│ mean of 2\s+│ 1\.542\s+│ 2\.500\s+│ 1\.542", output);
    }

    [Fact]
    public void Without_evaluate_there_is_no_evaluation_object()
    {
        var (code, output, _) = CliRunner.Run("place", Tiny, "--load", A, "--format", "json");
        Assert.Equal(0, code);
        using var doc = JsonDocument.Parse(output);
        Assert.False(doc.RootElement.TryGetProperty("evaluation", out _));
    }

    [Fact]
    public void A_bad_evaluation_file_is_a_diagnostic_at_its_line_and_a_missing_one_a_usage_error()
    {
        var bad = Path.Combine(_folder, "bad.csv");
        File.WriteAllText(bad, "layer,expert,load\n0,0,1\n0,1,-5\n");
        var (code, output, _) = CliRunner.Run("place", Tiny, "--load", A, "--evaluate", bad);
        Assert.Equal(1, code);
        Assert.Contains("bad.csv(3,5): error MP5105:", output, StringComparison.Ordinal);
        Assert.DoesNotContain("evaluated on", output, StringComparison.Ordinal);

        var missing = CliRunner.Run("place", Tiny, "--evaluate", Path.Combine(_folder, "none.csv"));
        Assert.Equal(2, missing.ExitCode);
        Assert.Contains("none.csv': no such file", missing.Error, StringComparison.Ordinal);
    }
}
