using MoePlan.Core.Calibration;
using MoePlan.Tests.Support;
using Xunit;

namespace MoePlan.Core.Tests.Calibration;

public sealed class MeasurementSetTests
{
    private static readonly MemorySourceResolver Resolver = new(new Dictionary<string, string>(), readRepository: true);

    private static (int Cases, string[] Diagnostics) Prepare(string yaml)
    {
        var (measurements, read) = MeasurementReader.Parse("plans/m.yaml", yaml, Resolver);
        Assert.Empty(read);
        var (cases, diagnostics) = MeasurementSet.Prepare(measurements, Resolver);
        return (cases.Length, [.. diagnostics.Select(d => d.ToString())]);
    }

    [Fact]
    public void A_plan_that_does_not_compile_is_reported_at_the_measurement_with_its_own_diagnostics()
    {
        var (cases, diagnostics) = Prepare("measurements:\n  - {plan: no-such.moe, metric: tpot_ms, value: 30, source: s}\n");
        Assert.Equal(0, cases);
        Assert.StartsWith("plans/m.yaml(2,12): error MP5807: the measured plan `plans/no-such.moe`", diagnostics[0], StringComparison.Ordinal);
        Assert.Contains(diagnostics, d => d.Contains("MP2011", StringComparison.Ordinal));
    }

    [Fact]
    public void Measurements_of_two_hardware_families_are_refused()
    {
        var (cases, diagnostics) = Prepare("""
            measurements:
              - {plan: deepseek-v3-h800.moe, metric: tpot_ms, value: 50, source: s}
              - {plan: openpangu-718b-ascend910c.moe, metric: tpot_ms, value: 50, source: s}
            """);
        Assert.Equal(1, cases);
        var d = Assert.Single(diagnostics);
        Assert.StartsWith("plans/m.yaml(3,12): error MP5808: this plan runs on Ascend hardware but the first measurement's on Hopper", d, StringComparison.Ordinal);
    }

    [Fact]
    public void Two_measurements_of_one_name_are_refused()
    {
        var (_, diagnostics) = Prepare("""
            measurements:
              - {name: a, plan: deepseek-v3-h800.moe, metric: tpot_ms, value: 50, source: s}
              - {name: a, plan: deepseek-v3-h800.moe, metric: ttft_ms, value: 900, source: s}
            """);
        Assert.StartsWith("plans/m.yaml(3,5): error MP5811: a measurement named \"a\" is already at plans/m.yaml(2,5)", Assert.Single(diagnostics), StringComparison.Ordinal);
    }

    [Fact]
    public void An_override_a_plan_does_not_have_is_reported()
    {
        var (cases, diagnostics) = Prepare("measurements:\n  - {plan: deepseek-v3-h800.moe, metric: tpot_ms, value: 50, source: s, set: [decode.colour=red]}\n");
        Assert.Equal(0, cases);
        Assert.StartsWith("plans/m.yaml(2,12): error MP5807", diagnostics[0], StringComparison.Ordinal);
    }

    [Fact]
    public void An_override_changes_what_is_costed()
    {
        var (measurements, _) = MeasurementReader.Parse("plans/m.yaml", """
            measurements:
              - {name: as planned, plan: deepseek-v3-h800.moe, metric: tpot_ms, value: 50, source: s}
              - {name: batch 8, plan: deepseek-v3-h800.moe, metric: tpot_ms, value: 50, source: s, set: [decode.max_batch=8]}
            """, Resolver);
        var (cases, diagnostics) = MeasurementSet.Prepare(measurements, Resolver);
        Assert.Empty(diagnostics);
        var factors = MoePlan.Core.Cost.EfficiencyFactors.Hopper;
        // docs/cost-model.md's decode-batch table: TPOT 20.1 ms at 8 per device, far below the plan's 88.
        Assert.InRange(cases[1].Predict(factors), 19, 21);
        Assert.True(cases[0].Predict(factors) > 2 * cases[1].Predict(factors));
    }
}
