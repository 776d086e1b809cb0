using System.Text.Json;
using ApprovalTests;
using ApprovalTests.Namers;
using ApprovalTests.Reporters;
using MoePlan.Tests.Support;
using Xunit;

namespace MoePlan.Cli.Tests;

/// <summary>Every shipped plan checks clean, and its compiled plan.json is kept as an approved baseline.</summary>
[UseReporter(typeof(BaselineReporter))]
[UseApprovalSubdirectory("Approved")]
public sealed class SamplePlanTests
{
    public static TheoryData<string> Plans()
    {
        var data = new TheoryData<string>();
        foreach (var plan in RepositoryPaths.SamplePlans())
        {
            data.Add(plan);
        }

        return data;
    }

    [Fact]
    public void All_sample_plans_check_clean()
    {
        var plans = RepositoryPaths.SamplePlans().Select(p => RepositoryPaths.PathOf(p.Split('/'))).ToArray();
        Assert.True(plans.Length >= 5);
        var (code, output, error) = CliRunner.Run(["check", .. plans]);
        Assert.Equal(0, code);
        Assert.Equal("", error);
        Assert.DoesNotContain("warning", output, StringComparison.Ordinal);
        Assert.DoesNotContain("error", output, StringComparison.Ordinal);
    }

    [Theory]
    [MemberData(nameof(Plans))]
    public void Compiled_plan_json_matches_the_baseline(string plan)
    {
        var folder = CliRunner.TempFolder();
        try
        {
            var (code, output, _) = CliRunner.Run("compile", RepositoryPaths.PathOf(plan.Split('/')), "-o", folder);
            Assert.True(code == 0, output);
            var json = File.ReadAllText(Path.Combine(folder, "plan.json"));
            using (JsonDocument.Parse(json))
            {
            }

            using (ApprovalResults.ForScenario(Path.GetFileNameWithoutExtension(plan)))
            {
                Approvals.Verify(json);
            }
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
    public void Compiling_twice_gives_byte_identical_output()
    {
        var plan = RepositoryPaths.PathOf("plans", "deepseek-v3-h800.moe");
        var a = CliRunner.TempFolder();
        var b = CliRunner.TempFolder();
        try
        {
            Assert.Equal(0, CliRunner.Run("compile", plan, "-o", a).ExitCode);
            Assert.Equal(0, CliRunner.Run("compile", plan, "-o", b).ExitCode);
            Assert.Equal(File.ReadAllBytes(Path.Combine(a, "plan.json")), File.ReadAllBytes(Path.Combine(b, "plan.json")));
        }
        finally
        {
            Directory.Delete(a, true);
            Directory.Delete(b, true);
        }
    }
}
