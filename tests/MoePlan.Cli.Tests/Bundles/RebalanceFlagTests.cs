using System.Globalization;
using MoePlan.Cli.Files;
using MoePlan.Core.Compilation;
using MoePlan.Core.Emit;
using MoePlan.Tests.Support;
using Xunit;

namespace MoePlan.Cli.Tests.Bundles;

/// <summary>A threshold rebalance with an algorithm the engines do not have: the flags SGLang gets, and the two warnings.</summary>
public sealed class RebalanceFlagTests
{
    [Fact]
    public void A_threshold_rebalance_with_moeplan_gives_sglang_the_utilization_threshold_and_warns_what_the_engines_cannot_do()
    {
        var folder = CliRunner.TempFolder();
        var output = CliRunner.TempFolder();
        try
        {
            // The drift sample with its data beside it, rebalancing on a threshold with moeplan's algorithm.
            var plans = RepositoryPaths.PathOf("plans");
            Directory.CreateDirectory(Path.Combine(folder, "data"));
            foreach (var file in new[] { "deepseek-v3-sglang-decode_in2000out100.json", "deepseek-v3-drift.windows" })
            {
                File.Copy(Path.Combine(plans, "data", file), Path.Combine(folder, "data", file));
            }

            foreach (var line in File.ReadAllLines(Path.Combine(plans, "data", "deepseek-v3-drift.windows")))
            {
                var parts = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                if (parts.Length == 2 && !line.TrimStart().StartsWith('#') && !File.Exists(Path.Combine(folder, "data", parts[1])))
                {
                    File.Copy(Path.Combine(plans, "data", parts[1]), Path.Combine(folder, "data", parts[1]));
                }
            }

            var text = File.ReadAllText(Path.Combine(plans, "deepseek-v3-sglang-h100-drift.moe"));
            Assert.Contains("rebalance every 60s with eplb", text, StringComparison.Ordinal);
            var plan = Path.Combine(folder, "threshold.moe");
            File.WriteAllText(plan, text.Replace("rebalance every 60s with eplb", "rebalance when imbalance > 1.25 with moeplan", StringComparison.Ordinal));

            var (code, stdout, stderr) = CliRunner.Run("compile", plan, "-o", output, "--force", "--target", "sglang", "--target", "vllm");
            Assert.True(code == 0, stdout + stderr);
            Assert.Contains("warning MP5205", stdout, StringComparison.Ordinal);
            Assert.Contains("warning MP5206", stdout, StringComparison.Ordinal);

            // SGLang skips a rebalance while mean/max GPU load is above the threshold: 1 / 1.25 = 0.8. The check period is
            // the plan's 10 s over the decode step of cost.json, rounded up.
            var decodeStep = System.Text.Json.JsonDocument.Parse(File.ReadAllText(Path.Combine(output, "cost.json"))).RootElement
                .GetProperty("decode").GetProperty("step_ms").GetDouble();
            var decodeScript = File.ReadAllText(Directory.GetFiles(Path.Combine(output, "sglang")).Where(f => File.ReadAllText(f).Contains("--disaggregation-mode decode", StringComparison.Ordinal)).Order(StringComparer.Ordinal).First());
            Assert.Contains("--eplb-min-rebalancing-utilization-threshold 0.800", decodeScript, StringComparison.Ordinal);
            Assert.Contains($"--eplb-rebalance-num-iterations {Math.Ceiling(10_000 / decodeStep).ToString(CultureInfo.InvariantCulture)} ", decodeScript.Replace("\\\n", " ", StringComparison.Ordinal), StringComparison.Ordinal);
            Assert.Contains("--eplb-algorithm deepseek_hierarchical", decodeScript, StringComparison.Ordinal);
        }
        finally
        {
            BundleFiles.Delete(folder);
            BundleFiles.Delete(output);
        }
    }

    [Fact]
    public void Without_the_cost_models_step_time_a_rebalancing_plan_is_not_written_MP5207()
    {
        const string Plan = "plans/deepseek-v3-sglang-h100-drift.moe";
        var resolver = MemorySourceResolver.FromRepository(Plan, "plans/data/deepseek-v3-sglang-decode_in2000out100.json", "plans/data/deepseek-v3-drift.windows");
        var plan = PlanCompiler.Compile(Plan, resolver).Plan!;
        var bundle = BundleEmitter.Emit(plan, Plan, ["sglang"], new FolderTemplateLoader(RepositoryPaths.PathOf("templates")), resolver, cost: null);
        var error = Assert.Single(bundle.Diagnostics, d => d.IsError);
        Assert.Equal("MP5207", error.Code);
        Assert.Equal(plan.Placement.Rebalance!.Span, error.Span);
        Assert.Empty(bundle.Files);
    }
}
