using System.Text.Json;
using MoePlan.Core.Calibration;
using MoePlan.Core.Compilation;
using MoePlan.Core.Cost;
using MoePlan.Core.Emit;
using MoePlan.Core.Tests.Cost;
using MoePlan.Tests.Support;
using Xunit;

namespace MoePlan.Core.Tests.Calibration;

public sealed class CalibrationStatementTests
{
    /// <summary>The profile `moeplan calibrate plans/calibration/published.yaml --cross-validate` writes.</summary>
    private static readonly Lazy<(CalibrationProfile Profile, string Yaml)> Published = new(() =>
    {
        var profile = CalibrationProfile.Calibrate(CalibrationCase.Measurements, [CalibrationCase.File], crossValidate: true);
        return (profile, CalibrationProfileWriter.Yaml(profile));
    });

    private static string PlanText(string plan, string statement)
    {
        var text = File.ReadAllText(RepositoryPaths.PathOf(plan.Split('/')));
        var at = text.IndexOf("  engine ", StringComparison.Ordinal);
        return text[..at] + "  " + statement + "\n" + text[at..];
    }

    private static CompilationResult Compile(string plan, string statement, Dictionary<string, string> files)
    {
        var path = plan.Replace(".moe", "-calibrated.moe", StringComparison.Ordinal);
        files[path] = PlanText(plan, statement);
        return PlanCompiler.Compile(path, new MemorySourceResolver(files, readRepository: true));
    }

    [Fact]
    public void A_profile_read_back_holds_exactly_the_fitted_factors_and_cases()
    {
        var (profile, yaml) = Published.Value;
        var (read, diagnostics) = CalibrationProfileReader.Parse("p.yaml", yaml);
        Assert.Empty(diagnostics);
        Assert.Equal(profile.Factors with { Provenance = "" }, read!.Factors with { Provenance = "" });
        Assert.Equal(profile.Fitted.Select(f => (f.Factor.Name, f.Value, f.Prior, f.Identified)), read.Fitted.Select(f => (f.Factor.Name, f.Value, f.Prior, f.Identified)));
        Assert.Equal(profile.Cases.Select(c => (c.Name, c.Metric, c.Regime, c.Measured)), read.Cases.Select(c => (c.Name, c.Metric, c.Regime, c.Measured)));
        Assert.All(read.Cases.Zip(profile.Cases), p => Assert.Equal(p.Second.LeaveOneOutError!.Value, p.First.LeaveOneOutError!.Value, 6));
    }

    [Fact]
    public void A_plan_naming_the_profile_predicts_what_the_fit_predicted_and_says_so()
    {
        var (profile, yaml) = Published.Value;
        var files = new Dictionary<string, string> { ["plans/calibration/profiles/hopper.yaml"] = yaml };
        var compiled = Compile("plans/calibration/sglang-h100-decode.moe", "calibration \"profiles/hopper.yaml\"", files);
        Assert.True(compiled.Plan is not null, string.Join("; ", compiled.Diagnostics));
        var fitted = profile.Cases.Single(c => c.Name == "SGLang decode, batch 256, KV 2,000");
        var report = compiled.Cost!.Report!;
        Assert.Equal(fitted.Predicted, report.Decode.OutputTokensPerSecondPerRank, 3);
        Assert.NotEqual(fitted.Predicted, PlanCostModel.Evaluate(compiled.Plan with { Calibration = null }).Decode.OutputTokensPerSecondPerRank, 3);

        using var json = JsonDocument.Parse(CostReportWriter.Json(compiled.Plan, report));
        var factors = json.RootElement.GetProperty("factors");
        Assert.Equal("profiles/hopper.yaml", factors.GetProperty("profile").GetString());
        Assert.Equal(9, factors.GetProperty("cases").GetInt32());
        Assert.True(factors.GetProperty("calibrated").GetBoolean());
        Assert.StartsWith("calibrated by profiles/hopper.yaml on 9 cases (largest error 0.7%, leave-one-out 1.8%)",
            factors.GetProperty("provenance").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public void A_plan_naming_a_cross_validated_profile_takes_its_intervals_and_one_not_cross_validated_gets_none()
    {
        var (_, yaml) = Published.Value;
        var files = new Dictionary<string, string> { ["plans/calibration/profiles/hopper.yaml"] = yaml };
        var report = Compile("plans/calibration/sglang-h100-decode.moe", "calibration \"profiles/hopper.yaml\"", files).Cost!.Report!;
        Assert.Equal("profile profiles/hopper.yaml", report.Intervals!.Basis);
        var tpot = report.Intervals.Tpot!.Value;
        Assert.InRange(report.Decode.TpotMilliseconds, tpot.Low, tpot.High);

        var unvalidated = CalibrationProfile.Calibrate(CalibrationCase.Measurements, [CalibrationCase.File], crossValidate: false);
        Assert.Empty(unvalidated.Indistinguishable);
        files["plans/calibration/profiles/hopper.yaml"] = CalibrationProfileWriter.Yaml(unvalidated);
        var none = Compile("plans/calibration/sglang-h100-decode.moe", "calibration \"profiles/hopper.yaml\"", files).Cost!.Report!.Intervals!;
        Assert.Empty(none.Intervals);
        Assert.Contains("without --cross-validate", none.Unavailable, StringComparison.Ordinal);
    }

    [Fact]
    public void A_missing_profile_is_MP2040_at_the_path()
    {
        var compiled = Compile("plans/calibration/sglang-h100-decode.moe", "calibration \"nowhere.yaml\"", []);
        Assert.Null(compiled.Plan);
        var d = Assert.Single(compiled.Diagnostics, d => d.IsError);
        Assert.Equal("MP2040", d.Code);
        Assert.Equal((9, 15), (d.Span!.Value.Line, d.Span.Value.Column));
        Assert.Contains("plans/calibration/nowhere.yaml", d.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_bad_profile_is_MP2041_at_the_path_with_its_errors_located_in_the_profile()
    {
        var yaml = Published.Value.Yaml.Replace("gemm_efficiency: { value: ", "gemm_efficiency: { value: 9", StringComparison.Ordinal);
        var files = new Dictionary<string, string> { ["plans/calibration/p.yaml"] = yaml };
        var compiled = Compile("plans/calibration/sglang-h100-decode.moe", "calibration \"p.yaml\"", files);
        Assert.Null(compiled.Plan);
        Assert.Contains(compiled.Diagnostics, d => d.Code == "MP2041" && d.Span!.Value.File == "plans/calibration/sglang-h100-decode-calibrated.moe");
        var inProfile = Assert.Single(compiled.Diagnostics, d => d.Code == "MP5824");
        Assert.Equal("plans/calibration/p.yaml", inProfile.Span!.Value.File);
        Assert.Contains("from 0.15 to 0.85", inProfile.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_profile_of_another_family_is_MP2042()
    {
        var yaml = Published.Value.Yaml;
        var files = new Dictionary<string, string> { ["plans/p.yaml"] = yaml };
        var compiled = Compile("plans/openpangu-718b-ascend910c.moe", "calibration \"p.yaml\"", files);
        Assert.Null(compiled.Plan);
        var d = Assert.Single(compiled.Diagnostics, d => d.IsError);
        Assert.Equal("MP2042", d.Code);
        Assert.StartsWith("the profile calibrates Hopper hardware but `ascend-910c` is Ascend", d.Message, StringComparison.Ordinal);
    }

    public static TheoryData<string, string, string> MalformedProfiles() => new()
    {
        // a replacement in the written profile, the code, the text at the diagnostic's position
        { "schema: moeplan/calibration-profile/v1", "schema: moeplan/calibration-profile/v9", "MP5825" },
        { "family: \"Hopper\"", "family: \"Volta\"", "MP5824" },
        { "family: \"Hopper\"", "famly: \"Hopper\"", "MP5822" },
        { "  kernel_gap_us: {", "  kernel_gap: {", "MP5822" },
        { "    regime: prefill\n", "    regime: prefill\n    colour: red\n", "MP5822" },
        { "    metric: prefill.input_tokens_per_s_per_device\n", "    metric: prefill.speed\n", "MP5824" },
        { "measured: 7209.25", "measured: fast", "MP5824" },
        { "measured: 7209.25", "measured: [1]", "MP5821" },
        { "factors:\n", "factors: 3\nold_factors:\n", "MP5821" },
        { "cases:\n", "cases: {}\nold_cases:\n", "MP5821" },
        { "  - name: \"SGLang prefill, 1K prompts\"\n", "  - name: \"SGLang prefill, 1K prompts\n", "MP5820" },
    };

    [Theory]
    [MemberData(nameof(MalformedProfiles))]
    public void Every_malformed_profile_gets_a_located_diagnostic(string find, string replace, string code)
    {
        var yaml = Published.Value.Yaml;
        Assert.Contains(find, yaml, StringComparison.Ordinal);
        var (profile, diagnostics) = CalibrationProfileReader.Parse("p.yaml", ReplaceFirst(yaml, find, replace));
        Assert.Null(profile);
        var d = diagnostics.FirstOrDefault(x => x.Code == code) ?? diagnostics.First();
        Assert.True(d.Code == code && d.Span is { } s && s.File == "p.yaml" && s.Line > 1, d.ToString());
    }

    [Fact]
    public void A_profile_without_a_factor_is_refused()
    {
        var yaml = string.Join("\n", Published.Value.Yaml.Split('\n').Where(l => !l.StartsWith("  overlap_efficiency:", StringComparison.Ordinal)));
        var (profile, diagnostics) = CalibrationProfileReader.Parse("p.yaml", yaml);
        Assert.Null(profile);
        Assert.Contains(diagnostics, d => d.Code == "MP5823" && d.Message.Contains("overlap_efficiency", StringComparison.Ordinal));
    }

    private static string ReplaceFirst(string text, string find, string replace)
    {
        var at = text.IndexOf(find, StringComparison.Ordinal);
        return text[..at] + replace + text[(at + find.Length)..];
    }
}
