using System.Text.Json;
using MoePlan.Tests.Support;
using Xunit;

namespace MoePlan.Cli.Tests;

public sealed class RunFunctionalTests
{
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
    public void Functional_run_passes_on_every_sample_plan(string plan)
    {
        var (code, output, error) = CliRunner.Run("run", RepositoryPaths.PathOf("plans", plan), "--functional", "--format", "json");
        Assert.True(code == 0, error + output);
        using var doc = JsonDocument.Parse(output);
        var root = doc.RootElement;
        Assert.True(root.GetProperty("passed").GetBoolean());
        var layers = root.GetProperty("layers");
        Assert.InRange(layers.GetArrayLength(), 1, 4);
        foreach (var layer in layers.EnumerateArray())
        {
            var moe = layer.GetProperty("moe");
            Assert.True(moe.GetProperty("within_bound").GetBoolean());
            Assert.Equal(0, moe.GetProperty("routing_mismatches").GetInt32());
            // The error is real (bf16 / fp8 / int8 roundings happened) and below the 3 sigma line.
            Assert.InRange(moe.GetProperty("rel_error").GetDouble(), 1e-5, moe.GetProperty("three_sigma_rel").GetDouble());
        }

        Assert.InRange(root.GetProperty("max_rel_error").GetDouble(), 1e-5, 1);
        Assert.InRange(root.GetProperty("scaled_model").GetProperty("emulated_devices").GetInt32(), 1, 8);
    }

    [Fact]
    public void Text_output_states_the_scaling()
    {
        var (code, output, _) = CliRunner.Run("run", RepositoryPaths.PathOf("plans", "qwen1.5-moe-tiny.moe"), "--functional");
        Assert.Equal(0, code);
        Assert.Contains("capped at 4 for speed", output, StringComparison.Ordinal);
        Assert.Contains("folded onto", output, StringComparison.Ordinal);
        Assert.Contains("passed:", output, StringComparison.Ordinal);
    }

    [Fact]
    public void A_missing_plan_is_an_io_error()
    {
        var (code, _, error) = CliRunner.Run("run", "no/such/plan.moe", "--functional");
        Assert.Equal(2, code);
        Assert.Contains("no such file", error, StringComparison.Ordinal);
    }
}
