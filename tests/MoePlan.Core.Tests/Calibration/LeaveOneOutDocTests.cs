using System.Globalization;
using System.Text;
using MoePlan.Core.Calibration;
using MoePlan.Core.Tests.Cost;
using MoePlan.Tests.Support;
using Xunit;

namespace MoePlan.Core.Tests.Calibration;

/// <summary>docs/calibration.md carries the fit and the leave-one-out of the published cases (regenerate with MOEPLAN_ACCEPT_BASELINES=1).</summary>
public sealed class LeaveOneOutDocTests
{
    [Fact]
    public void Docs_table_is_the_leave_one_out_of_the_published_cases()
    {
        var profile = CalibrationProfile.Calibrate(CalibrationCase.Measurements, [CalibrationCase.File], crossValidate: true);
        var s = new StringBuilder();
        s.Append(CultureInfo.InvariantCulture, $"Fitted on all {profile.Cases.Length} cases: largest error {Percent(profile.MaxAbsError)}, largest leave-one-out error {Percent(profile.MaxAbsLeaveOneOutError!.Value)}.\n\n");
        s.Append("| factor | fitted | Hopper's | bounds | identified |\n|---|---|---|---|---|\n");
        foreach (var f in profile.Fitted)
        {
            s.Append(CultureInfo.InvariantCulture, $"| `{f.Factor.Name}` | {f.Value:0.###} | {f.Prior:0.###} | {f.Factor.Lower:0.###}-{f.Factor.Upper:0.###} | {(f.Identified ? "yes" : "no: kept")} |\n");
        }

        s.Append("\n| case | metric | measured | fitted | error | left out | leave-one-out error |\n|---|---|---|---|---|---|---|\n");
        foreach (var c in profile.Cases)
        {
            var leftOut = c.Measured * (1 + c.LeaveOneOutError!.Value);
            s.Append(CultureInfo.InvariantCulture,
                $"| {c.Name} | `{c.Metric}` | {c.Measured:N0} | {c.Predicted:N0} | {Percent(c.Error)} | {leftOut:N0} | {Percent(c.LeaveOneOutError.Value)} |\n");
        }

        const string Begin = "<!-- leave-one-out-table:begin -->\n";
        const string End = "<!-- leave-one-out-table:end -->";
        var path = RepositoryPaths.PathOf("docs", "calibration.md");
        var doc = File.ReadAllText(path).Replace("\r\n", "\n", StringComparison.Ordinal);
        var start = doc.IndexOf(Begin, StringComparison.Ordinal);
        var end = doc.IndexOf(End, StringComparison.Ordinal);
        Assert.True(start >= 0 && end > start, "docs/calibration.md lacks the leave-one-out-table markers");
        var expected = doc[..(start + Begin.Length)] + s + doc[end..];
        if (Environment.GetEnvironmentVariable("MOEPLAN_ACCEPT_BASELINES") == "1")
        {
            File.WriteAllText(path, expected);
            doc = expected;
        }

        Assert.Equal(expected, doc);
    }

    private static string Percent(double e)
    {
        var rounded = Math.Round(e, 3);
        return (rounded == 0 ? 0 : rounded).ToString("+0.0%;-0.0%", CultureInfo.InvariantCulture);
    }
}
