using System.Text.Json;
using MoePlan.Tests.Support;
using Xunit;
using YamlDotNet.RepresentationModel;

namespace MoePlan.Cli.Tests;

public sealed class CalibrateCommandTests
{
    private static readonly string Published = RepositoryPaths.PathOf("plans", "calibration", "published.yaml");

    [Fact]
    public void Calibrate_writes_a_profile_with_factors_bounds_residuals_and_leave_one_out_errors()
    {
        var folder = CliRunner.TempFolder();
        Directory.CreateDirectory(folder);
        try
        {
            var profile = Path.Combine(folder, "hopper.yaml");
            var (code, output, error) = CliRunner.Run("calibrate", Published, "-o", profile, "--cross-validate");
            Assert.True(code == 0, error);
            Assert.Contains("leave-one-out", output, StringComparison.Ordinal);
            Assert.Contains($"profile written to {profile}", output, StringComparison.Ordinal);

            var yaml = new YamlStream();
            yaml.Load(new StringReader(File.ReadAllText(profile)));
            var root = (YamlMappingNode)yaml.Documents[0].RootNode;
            Assert.Equal("moeplan/calibration-profile/v1", root["schema"].ToString());
            Assert.Equal("Hopper", root["family"].ToString());
            var factors = (YamlMappingNode)root["factors"];
            Assert.Equal(
                ["gemm_efficiency", "gemm_half_rows", "scale_out_efficiency", "kernel_gap_us", "overlap_efficiency", "batch_routing_variation", "prefill_attention_efficiency"],
                factors.Children.Keys.Select(k => k.ToString()));
            foreach (var (_, factor) in factors.Children)
            {
                var f = (YamlMappingNode)factor;
                double Number(string key) => double.Parse(f[key].ToString(), System.Globalization.CultureInfo.InvariantCulture);
                Assert.InRange(Number("value"), Number("lower"), Number("upper"));
            }

            var cases = (YamlSequenceNode)root["cases"];
            Assert.Equal(9, cases.Children.Count);
            foreach (var c in cases.Children.Cast<YamlMappingNode>())
            {
                // The error is what predicted and measured say it is (both written in the same file).
                double Number(string key) => double.Parse(c[key].ToString(), System.Globalization.CultureInfo.InvariantCulture);
                Assert.Equal((Number("predicted") / Number("measured")) - 1, Number("error"), 5);
                Assert.True(c.Children.ContainsKey("loo_error"));
            }
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [Fact]
    public void Cost_and_run_use_the_profile_a_plan_names()
    {
        var folder = CliRunner.TempFolder();
        Directory.CreateDirectory(folder);
        try
        {
            // The decode plan has no imports; its loads file sits at ../data beside it, as in the repository.
            var plans = Path.Combine(folder, "calibration");
            Directory.CreateDirectory(plans);
            Directory.CreateDirectory(Path.Combine(folder, "data"));
            const string Loads = "deepseek-v3-sglang-decode_in2000out100.json";
            File.Copy(RepositoryPaths.PathOf("plans", "data", Loads), Path.Combine(folder, "data", Loads));
            Assert.Equal(0, CliRunner.Run("calibrate", Published, "-o", Path.Combine(plans, "hopper.yaml"), "--cross-validate").ExitCode);
            var text = File.ReadAllText(RepositoryPaths.PathOf("plans", "calibration", "sglang-h100-decode.moe"));
            var plain = Path.Combine(plans, "plain.moe");
            var calibrated = Path.Combine(plans, "calibrated.moe");
            File.WriteAllText(plain, text);
            File.WriteAllText(calibrated, text.Replace("  engine sglang\n", "  engine sglang\n  calibration \"hopper.yaml\"\n", StringComparison.Ordinal));

            var (code, output, error) = CliRunner.Run("cost", calibrated);
            Assert.True(code == 0, error);
            Assert.Contains("efficiency factors (Hopper): calibrated by hopper.yaml on 9 cases (largest error 0.7%, leave-one-out 1.8%)", output, StringComparison.Ordinal);

            var json = CliRunner.Run("cost", calibrated, "--format", "json").Out;
            JsonOutputSchemaTests.AssertValid("cost", json);
            using (var doc = JsonDocument.Parse(json))
            using (var plainDoc = JsonDocument.Parse(CliRunner.Run("cost", plain, "--format", "json").Out))
            {
                Assert.Equal("hopper.yaml", doc.RootElement.GetProperty("factors").GetProperty("profile").GetString());
                // The profile's own prediction of this case (its `predicted`), not the family factors' one.
                var profile = new YamlStream();
                profile.Load(new StringReader(File.ReadAllText(Path.Combine(plans, "hopper.yaml"))));
                var fitted = ((YamlSequenceNode)((YamlMappingNode)profile.Documents[0].RootNode)["cases"]).Children.Cast<YamlMappingNode>()
                    .Single(c => c["name"].ToString() == "SGLang decode, batch 256, KV 2,000");
                var predicted = double.Parse(fitted["predicted"].ToString(), System.Globalization.CultureInfo.InvariantCulture);
                var decode = doc.RootElement.GetProperty("decode").GetProperty("output_tokens_per_s_per_device").GetDouble();
                var plainDecode = plainDoc.RootElement.GetProperty("decode").GetProperty("output_tokens_per_s_per_device").GetDouble();
                Assert.Equal(predicted, decode, 2);
                Assert.NotEqual(plainDecode, decode, 2);
            }

            // The simulation's step times come from the same factors.
            var runPlain = CliRunner.Run("run", plain, "--max-requests", "200", "--format", "json");
            var runCalibrated = CliRunner.Run("run", calibrated, "--max-requests", "200", "--format", "json");
            Assert.True(runCalibrated.ExitCode == 0, runCalibrated.Error);
            Assert.NotEqual(runPlain.Out, runCalibrated.Out);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [Fact]
    public void Two_runs_write_byte_identical_profiles()
    {
        var folder = CliRunner.TempFolder();
        Directory.CreateDirectory(folder);
        try
        {
            Assert.Equal(0, CliRunner.Run("calibrate", Published, "-o", Path.Combine(folder, "a.yaml")).ExitCode);
            Assert.Equal(0, CliRunner.Run("calibrate", Published, "-o", Path.Combine(folder, "b.yaml")).ExitCode);
            Assert.Equal(File.ReadAllBytes(Path.Combine(folder, "a.yaml")), File.ReadAllBytes(Path.Combine(folder, "b.yaml")));
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [Fact]
    public void A_bad_measurement_file_is_a_located_diagnostic_and_no_profile_is_written()
    {
        var folder = CliRunner.TempFolder();
        Directory.CreateDirectory(folder);
        try
        {
            var measurements = Path.Combine(folder, "m.csv");
            File.WriteAllText(measurements, "plan,metric,value,source\nx.moe,decode.tpot_ms,fast,ours\n");
            var profile = Path.Combine(folder, "p.yaml");
            var (code, output, error) = CliRunner.Run("calibrate", measurements, "-o", profile);
            Assert.Equal(1, code);
            Assert.Equal("", output);
            Assert.Contains($"{measurements}(2,22): error MP5806: `value` \"fast\" is not a positive number", error, StringComparison.Ordinal);
            Assert.False(File.Exists(profile));
            Assert.Equal(["m.csv"], Directory.GetFiles(folder).Select(Path.GetFileName));
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [Fact]
    public void Cross_validation_of_one_measurement_is_refused()
    {
        var folder = CliRunner.TempFolder();
        Directory.CreateDirectory(folder);
        try
        {
            var measurements = Path.Combine(folder, "one.yaml");
            File.WriteAllText(measurements, $"measurements:\n  - {{plan: {RepositoryPaths.PathOf("plans", "deepseek-v3-h800.moe")}, metric: tpot_ms, value: 50, source: s}}\n");
            var (code, _, error) = CliRunner.Run("calibrate", measurements, "--cross-validate");
            Assert.Equal(1, code);
            Assert.Contains("error MP5813: leave-one-out needs at least 2 measurements, found 1", error, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [Fact]
    public void A_file_without_measurements_is_refused()
    {
        var folder = CliRunner.TempFolder();
        Directory.CreateDirectory(folder);
        try
        {
            var measurements = Path.Combine(folder, "none.yaml");
            File.WriteAllText(measurements, "measurements: []\n");
            var (code, _, error) = CliRunner.Run("calibrate", measurements, "-o", Path.Combine(folder, "p.yaml"));
            Assert.Equal(1, code);
            Assert.Contains($"{measurements}(1,1): error MP5810: the measurement files hold no measurement", error, StringComparison.Ordinal);
            Assert.False(File.Exists(Path.Combine(folder, "p.yaml")));
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [Fact]
    public void A_missing_file_or_a_folder_as_output_is_a_usage_error()
    {
        Assert.Equal(2, CliRunner.Run("calibrate", RepositoryPaths.PathOf("plans", "calibration", "no-such.yaml")).ExitCode);
        var (code, _, error) = CliRunner.Run("calibrate", Published, "-o", RepositoryPaths.PathOf("plans"));
        Assert.Equal(2, code);
        Assert.Contains("it is a folder", error, StringComparison.Ordinal);
    }
}
