using System.Globalization;
using System.Text;
using MoePlan.Tests.Support;
using Xunit;

namespace MoePlan.Core.Tests.Cost;

/// <summary>The cost model reproduces each published figure within 5% with one set of factors per family.</summary>
public sealed class CalibrationTests
{
    public static TheoryData<string> Names()
    {
        var data = new TheoryData<string>();
        foreach (var c in CalibrationCase.All)
        {
            data.Add(c.Name);
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Names))]
    public void Prediction_is_within_5_percent_of_the_published_figure(string name)
    {
        var c = CalibrationCase.All.Single(x => x.Name == name);
        var predicted = c.Predicted();
        var error = (predicted / c.Published) - 1;
        Assert.True(Math.Abs(error) <= CalibrationCase.Tolerance,
            $"{c.Name}: predicted {predicted:0} {c.Metric}, published {c.Published:0} ({c.Source}): {error:+0.0%;-0.0%}");
    }

    /// <summary>docs/cost-model.md carries the table these tests compute (regenerate with MOEPLAN_ACCEPT_BASELINES=1).</summary>
    [Fact]
    public void Docs_table_is_generated_from_the_calibration_cases()
    {
        var table = new StringBuilder("| case | plan | metric | published | predicted | error | source |\n|---|---|---|---|---|---|---|\n");
        foreach (var c in CalibrationCase.All)
        {
            var predicted = c.Predicted();
            table.Append(CultureInfo.InvariantCulture,
                $"| {c.Name} | `{c.Plan}` | {c.Metric} | {c.Published:N0} | {predicted:N0} | {(predicted / c.Published) - 1:+0.0%;-0.0%} | {c.Source} |\n");
        }

        GeneratedDocSection.AssertCurrent("docs/cost-model.md", "calibration-table", table.ToString());
    }

    [Fact]
    public void Calibration_plans_check_clean()
    {
        foreach (var plan in Directory.GetFiles(RepositoryPaths.PathOf("plans", "calibration"), "*.moe").Order(StringComparer.Ordinal))
        {
            var relative = "plans/calibration/" + Path.GetFileName(plan);
            var result = Compilation.PlanCompiler.Compile(relative, MemorySourceResolver.FromRepository(relative));
            Assert.True(result.Diagnostics.IsEmpty, relative + ": " + string.Join("; ", result.Diagnostics));
        }
    }
}
