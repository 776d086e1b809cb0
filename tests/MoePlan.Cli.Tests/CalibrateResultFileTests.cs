using System.Globalization;
using MoePlan.Tests.Support;
using Xunit;
using YamlDotNet.RepresentationModel;

namespace MoePlan.Cli.Tests;

/// <summary><c>moeplan calibrate</c> from measurements that name serving-benchmark result files (tests/data/bench-results/).</summary>
public sealed class CalibrateResultFileTests
{
    private static readonly string Plan = RepositoryPaths.PathOf("plans", "deepseek-v3-h800.moe");
    private static readonly string Sglang = RepositoryPaths.PathOf("tests", "data", "bench-results", "sglang_1203_50_1024_256.jsonl");

    [Fact]
    public void Calibrate_reads_the_figures_from_the_result_file_and_writes_them_per_device()
    {
        var folder = CliRunner.TempFolder();
        Directory.CreateDirectory(folder);
        try
        {
            var measurements = Path.Combine(folder, "m.yaml");
            File.WriteAllText(measurements, $"""
                measurements:
                  - name: decode at concurrency 16
                    plan: {Plan}
                    metric: decode.output_tokens_per_s_per_device
                    result: {"{"} file: {Sglang}, format: sglang-bench-serving, line: 1 {"}"}
                    source: moeplan's emulated engine, tests/data/bench-results
                  - name: tpot at concurrency 32
                    plan: {Plan}
                    metric: decode.tpot_ms
                    result: {"{"} file: {Sglang}, line: 2 {"}"}
                    source: moeplan's emulated engine, tests/data/bench-results
                """);
            var profile = Path.Combine(folder, "p.yaml");
            var (code, _, error) = CliRunner.Run("calibrate", measurements, "-o", profile);
            Assert.True(code == 0, error);

            var yaml = new YamlStream();
            yaml.Load(new StringReader(File.ReadAllText(profile)));
            var cases = ((YamlSequenceNode)((YamlMappingNode)yaml.Documents[0].RootNode)["cases"]).Children.Cast<YamlMappingNode>().ToList();
            double Measured(int i) => double.Parse(cases[i]["measured"].ToString(), CultureInfo.InvariantCulture);
            // Line 1 of the file: "output_throughput": 422.27705810777564, over the plan's decode pool of 1 x dp 144 = 144 GPUs.
            Assert.Equal(422.27705810777564 / 144, Measured(0));
            // Line 2: "mean_tpot_ms": 29.681750559922264, as printed.
            Assert.Equal(29.681750559922264, Measured(1));
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [Fact]
    public void A_missing_result_file_is_a_located_diagnostic_and_no_profile_is_written()
    {
        var folder = CliRunner.TempFolder();
        Directory.CreateDirectory(folder);
        try
        {
            var measurements = Path.Combine(folder, "m.csv");
            File.WriteAllText(measurements, $"plan,metric,result_file,source\n{Plan},tpot_ms,runs/none.jsonl,ours\n");
            var profile = Path.Combine(folder, "p.yaml");
            var (code, output, error) = CliRunner.Run("calibrate", measurements, "-o", profile);
            Assert.Equal(1, code);
            Assert.Equal("", output);
            // Row 2, the third field: after the plan's path and ",tpot_ms,".
            var column = Plan.Length + ",tpot_ms,".Length + 1;
            Assert.Contains($"{measurements}(2,{column}): error MP5830: cannot read the result file", error, StringComparison.Ordinal);
            Assert.DoesNotContain("   at ", error, StringComparison.Ordinal);
            Assert.False(File.Exists(profile));
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }
}
