using System.Text.Json;
using MoePlan.Tests.Support;
using Xunit;

namespace MoePlan.Cli.Tests;

public sealed class CostCommandTests
{
    public static TheoryData<string, string> PlansAndFormats()
    {
        var data = new TheoryData<string, string>();
        foreach (var plan in RepositoryPaths.SamplePlans())
        {
            foreach (var format in new[] { "text", "md", "json" })
            {
                data.Add(plan, format);
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(PlansAndFormats))]
    public void Cost_runs_on_every_sample_plan_in_every_format(string plan, string format)
    {
        var (code, output, error) = CliRunner.Run("cost", RepositoryPaths.PathOf(plan.Split('/')), "--format", format);
        Assert.True(code == 0, error);
        switch (format)
        {
            case "json":
                using (var doc = JsonDocument.Parse(output))
                {
                    var prefill = doc.RootElement.GetProperty("prefill");
                    var decode = doc.RootElement.GetProperty("decode");
                    foreach (var key in new[] { "step_ms", "ttft_ms", "input_tokens_per_s_per_device" })
                    {
                        Assert.True(prefill.GetProperty(key).GetDouble() > 0, key);
                    }

                    foreach (var key in new[] { "step_ms", "tpot_ms", "output_tokens_per_s_per_device", "batch_per_device", "kv_length" })
                    {
                        Assert.True(decode.GetProperty(key).GetDouble() > 0, key);
                    }
                }

                break;
            case "md":
                Assert.StartsWith("# Cost report: ", output, StringComparison.Ordinal);
                break;
            default:
                Assert.Contains("TPOT", output, StringComparison.Ordinal);
                break;
        }
    }

    [Fact]
    public void Multi_die_chips_also_report_per_package()
    {
        var (_, output, _) = CliRunner.Run("cost", RepositoryPaths.PathOf("plans", "deepseek-r1-cloudmatrix384.moe"), "--format", "json");
        using var doc = JsonDocument.Parse(output);
        var decode = doc.RootElement.GetProperty("decode");

        // A 910C package is two dies: per package = 2 x per die; 96 sequences per NPU = 48 per die.
        Assert.Equal(2 * decode.GetProperty("output_tokens_per_s_per_device").GetDouble(), decode.GetProperty("output_tokens_per_s_per_package").GetDouble(), 2);
        Assert.Equal(48, decode.GetProperty("batch_per_device").GetDouble());
        Assert.Equal(96, decode.GetProperty("batch_per_package").GetDouble());
        Assert.True(doc.RootElement.GetProperty("prefill").GetProperty("input_tokens_per_s_per_package").GetDouble() > 0);
    }

    [Fact]
    public void An_invalid_plan_exits_1_with_diagnostics()
    {
        var plan = RepositoryPaths.PathOf("tests", "MoePlan.Core.Tests", "Baselines", "Invalid", "MP3004-experts-not-divisible.moe");
        var (code, _, error) = CliRunner.Run("cost", plan);
        Assert.Equal(1, code);
        Assert.Contains("MP3004", error, StringComparison.Ordinal);
    }
}
