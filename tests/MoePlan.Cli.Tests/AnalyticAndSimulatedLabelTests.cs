using System.Text.Json;
using MoePlan.Tests.Support;
using Xunit;

namespace MoePlan.Cli.Tests;

/// <summary>
/// Say what each number is: `cost` labels its figures analytic (saturated capacity), `run` labels its simulated (offered
/// load) and sets them against the analytic ones, with one line of reason where a median is more than 2x off. The test
/// takes both figures from the two verbs' JSON and decides by itself whether the line is due.
/// </summary>
public sealed class AnalyticAndSimulatedLabelTests
{
    [Fact]
    public void Cost_says_its_figures_are_saturated_capacity_estimates()
    {
        var (code, output, _) = CliRunner.Run("cost", RepositoryPaths.PathOf("plans", "qwen1.5-moe-tiny.moe"));
        Assert.Equal(0, code);
        Assert.Contains("analytic, saturated-capacity estimates (every batch full); `moeplan run` simulates the offered load", output.Split('\n')[0], StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("qwen1.5-moe-tiny.moe", "")]
    [InlineData("qwen1.5-moe-tiny.moe", "workload.arrivals=constant 40/s")]
    public void Run_sets_simulated_medians_against_the_estimates_and_explains_a_gap_over_2x(string planName, string set)
    {
        var plan = RepositoryPaths.PathOf("plans", planName);
        string[] overrides = set.Length == 0 ? [] : ["--set", set];
        using var cost = JsonDocument.Parse(CliRunner.Run(["cost", plan, "--format", "json", .. overrides]).Out);
        using var run = JsonDocument.Parse(CliRunner.Run(["run", plan, "--format", "json", .. overrides]).Out);
        var estimates = new Dictionary<string, double>
        {
            ["TTFT"] = cost.RootElement.GetProperty("prefill").GetProperty("ttft_ms").GetDouble(),
            ["TPOT"] = cost.RootElement.GetProperty("decode").GetProperty("tpot_ms").GetDouble(),
        };
        var simulated = new Dictionary<string, double>
        {
            ["TTFT"] = run.RootElement.GetProperty("ttft_ms").GetProperty("p50").GetDouble(),
            ["TPOT"] = run.RootElement.GetProperty("tpot_ms").GetProperty("p50").GetDouble(),
        };

        var (code, text, _) = CliRunner.Run(["run", plan, .. overrides]);
        Assert.Equal(0, code);
        Assert.Contains("simulated at the offered load", text, StringComparison.Ordinal);
        foreach (var name in new[] { "TTFT", "TPOT" })
        {
            var ratio = Math.Max(simulated[name] / estimates[name], estimates[name] / simulated[name]);
            var line = text.Split('\n').FirstOrDefault(l => l.StartsWith($"  {name} p50 is ", StringComparison.Ordinal));
            if (ratio > 2)
            {
                Assert.True(line is not null, $"{name}: simulated {simulated[name]} ms vs estimate {estimates[name]} ms ({ratio:0.0}x) but no explanation in:\n{text}");
                Assert.Contains($"{ratio:0.0}x {(simulated[name] < estimates[name] ? "below" : "above")}", line, StringComparison.Ordinal);
            }
            else
            {
                Assert.Null(line);
            }
        }
    }
}
