using System.Text.Json;
using System.Text.Json.Nodes;
using Json.Schema;
using MoePlan.Tests.Support;
using Xunit;

namespace MoePlan.Cli.Tests;

/// <summary>Every JSON document moeplan prints or writes validates against its schema in <c>schemas/</c>, and names
/// that schema in its <c>schema</c> field.</summary>
public sealed class JsonOutputSchemaTests
{
    private static readonly string Tiny = RepositoryPaths.PathOf("plans", "qwen1.5-moe-tiny.moe");
    private static readonly string H800 = RepositoryPaths.PathOf("plans", "deepseek-v3-h800.moe");
    private static readonly string Aggregated = RepositoryPaths.PathOf("plans", "qwen3-235b-h200-aggregated.moe");
    private static readonly string Invalid = RepositoryPaths.PathOf("tests", "MoePlan.Core.Tests", "Baselines", "Invalid");

    public static TheoryData<string, string[]> Outputs() => new()
    {
        { "check", ["check", H800, "--format", "json"] },
        { "check", ["check", Invalid, "--format", "json"] },
        { "cost", ["cost", H800, "--format", "json"] },
        { "cost", ["cost", RepositoryPaths.PathOf("plans", "openpangu-718b-ascend910c.moe"), "--format", "json"] },
        { "place", ["place", H800, "--pool", "prefill", "--format", "json"] },
        { "place", ["place", H800, "--pool", "decode", "--compare", "--format", "json"] },
        {
            "place", [
                "place", H800, "--pool", "prefill", "--compare", "--load", RepositoryPaths.PathOf("plans", "data", "deepseek-v3-sglang-prefill_in1024.json"),
                "--evaluate", RepositoryPaths.PathOf("plans", "data", "deepseek-v3-sglang-prefill_in2048.json"), "--format", "json",
            ]
        },
        { "place", ["place", Path.Combine(Invalid, "MP2001-unknown-setting.moe"), "--format", "json"] },
        { "run", ["run", Tiny, "--max-requests", "30", "--format", "json"] },
        { "cost", ["cost", Aggregated, "--format", "json"] },
        { "place", ["place", Aggregated, "--pool", "serve", "--format", "json"] },
        { "run", ["run", Aggregated, "--max-requests", "30", "--format", "json"] },
        { "run", ["run", Tiny, "--max-requests", "30", "--compare-policies", "--format", "json"] },
        { "run", ["run", RepositoryPaths.PathOf("plans", "deepseek-v3-sglang-h100-drift.moe"), "--max-requests", "1500", "--format", "json"] },
        { "run-functional", ["run", Tiny, "--functional", "--format", "json"] },
        { "search", ["search", RepositoryPaths.PathOf("plans", "search", "deepseek-v3-64xh800.moe"), "--top", "2", "--confirm-requests", "100", "--format", "json"] },
        { "init", ["init", "--model", "qwen3-235b", "--devices", "16", "--hardware", "h200", "--devices-per-node", "8", "--input", "2000", "--output", "500", "--tpot", "40ms", "--price", "3.5", "--format", "json"] },
        { "init", ["init", "--model", "deepseek-v3", "--devices", "32", "--hardware", "h800", "--input", "4000", "--output", "1000", "--tpot", "1ms", "--format", "json"] },
        { "kernels-amla", ["kernels", "amla", "--heads", "16", "--kv-len", "300", "--batch", "4", "--format", "json"] },
        { "models", ["models", "--format", "json"] },
        { "hardware", ["hardware", "--format", "json"] },
        { "calibrate", ["calibrate", RepositoryPaths.PathOf("plans", "calibration", "published.yaml"), "--cross-validate", "--format", "json"] },
    };

    public static TheoryData<string> Plans()
    {
        var data = new TheoryData<string>();
        foreach (var plan in RepositoryPaths.SamplePlans())
        {
            data.Add(plan);
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Outputs))]
    public void Verb_output_validates_against_its_schema(string schema, string[] args)
    {
        var (_, output, error) = CliRunner.Run(args);
        Assert.True(output.TrimStart().StartsWith('{'), $"not JSON: {error}{output}");
        AssertValid(schema, output);
    }

    [Theory]
    [MemberData(nameof(Plans))]
    public void Plan_json_validates_against_its_schema(string plan)
    {
        var folder = CliRunner.TempFolder();
        try
        {
            var (code, _, error) = CliRunner.Run("compile", RepositoryPaths.PathOf(plan.Split('/')), "-o", folder);
            Assert.True(code == 0, error);
            AssertValid("plan", File.ReadAllText(Path.Combine(folder, "plan.json")));
        }
        finally
        {
            if (Directory.Exists(folder))
            {
                Directory.Delete(folder, recursive: true);
            }
        }
    }

    [Fact]
    public void The_run_report_summary_is_the_run_document()
    {
        var folder = CliRunner.TempFolder();
        try
        {
            Assert.Equal(0, CliRunner.Run("run", Tiny, "--max-requests", "30", "--report", folder).ExitCode);
            AssertValid("run", File.ReadAllText(Path.Combine(folder, "summary.json")));
        }
        finally
        {
            if (Directory.Exists(folder))
            {
                Directory.Delete(folder, recursive: true);
            }
        }
    }

    [Fact]
    public void The_schemas_are_live_a_missing_figure_or_another_version_is_refused()
    {
        var output = JsonNode.Parse(CliRunner.Run("check", H800, "--format", "json").Out)!;
        output["schema"] = "moeplan/check/v2";
        Assert.False(Evaluate("check", output.ToJsonString()).IsValid);

        var cost = JsonNode.Parse(CliRunner.Run("cost", H800, "--format", "json").Out)!.AsObject();
        cost.Remove(cost.Select(p => p.Key).First(k => k != "schema"));
        Assert.False(Evaluate("cost", cost.ToJsonString()).IsValid);

        var models = JsonNode.Parse(CliRunner.Run("models", "--format", "json").Out)!;
        models["models"]![0]!["layers"] = "61";
        Assert.False(Evaluate("models", models.ToJsonString()).IsValid);
    }

    [Fact]
    public async Task Bench_json_against_an_emulated_deployment_validates()
    {
        // `moeplan bench` needs a live endpoint: the tiny plan's emulated engines behind the proxy, on 127.0.0.1, fast.
        var compiled = Core.Compilation.PlanCompiler.Compile(Tiny, new Files.FileSystemSourceResolver());
        Assert.NotNull(compiled.Plan);
        await using var deployment = await Proxy.Engine.EmulatedDeployment.StartAsync(
            compiled.Plan, compiled.Cost, () => Serving.Proxy.RoutingPolicies.Create("round-robin"), speed: 50);
        var (code, output, error) = await Task.Run(() => CliRunner.Run(
            "bench", deployment.Proxy.Address.ToString(), "--trace", RepositoryPaths.PathOf("plans", "data", "azure_llm_inference_trace_code.csv"),
            "--max-requests", "8", "--speed", "50", "--plan", Tiny, "--format", "json"));
        Assert.True(code == 0, error);
        AssertValid("bench", output);
        Assert.Equal(8, (int)JsonNode.Parse(output)!["requests"]!["completed"]!);
    }

    [Fact]
    public void Every_schema_file_is_tested_and_names_the_version_its_documents_carry()
    {
        var files = Directory.GetFiles(RepositoryPaths.PathOf("schemas"), "*.schema.json").Select(f => Path.GetFileName(f)[..^".schema.json".Length]).Order(StringComparer.Ordinal);
        var tested = Outputs().Select(row => (string)row[0]).Append("plan").Append("bench").Distinct().Order(StringComparer.Ordinal);
        Assert.Equal(tested, files);
    }

    private static EvaluationResults Evaluate(string schema, string json)
    {
        var document = JsonSchema.FromText(File.ReadAllText(RepositoryPaths.PathOf("schemas", schema + ".schema.json")), new BuildOptions { SchemaRegistry = new SchemaRegistry() });
        return document.Evaluate(JsonDocument.Parse(json).RootElement, new EvaluationOptions { OutputFormat = OutputFormat.List });
    }

    internal static void AssertValid(string schema, string json)
    {
        var result = Evaluate(schema, json);
        var errors = result.Details?.Where(d => d.Errors is { Count: > 0 })
            .Select(d => $"{d.InstanceLocation}: {string.Join("; ", d.Errors!.Values)}").Take(10) ?? [];
        Assert.True(result.IsValid, $"{schema}.schema.json refuses the document:\n" + string.Join("\n", errors));
        Assert.Equal($"moeplan/{schema}/v1", (string?)JsonNode.Parse(json)!["schema"]);
    }
}
