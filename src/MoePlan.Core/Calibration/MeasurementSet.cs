using System.Collections.Immutable;
using MoePlan.Core.Compilation;
using MoePlan.Core.Cost;
using MoePlan.Core.Diagnostics;
using MoePlan.Core.Editing;
using MoePlan.Core.Plan;
using MoePlan.Core.Text;

namespace MoePlan.Core.Calibration;

/// <summary>
/// A measurement with its plan compiled and placed once: what the fitter re-costs with each candidate set of factors
/// (the placement imbalances and the trace's lengths do not depend on the factors, so only the cost model reruns).
/// </summary>
public sealed record PreparedMeasurement(Measurement Measurement, DeploymentPlan Plan, CostOptions Options)
{
    public string Family => Plan.Hardware.Value.Family;

    // The fitter evaluates thousands of factor sets: one allocation-free evaluator per thread.
    [ThreadStatic]
    private static CostEvaluator? _evaluator;

    /// <summary>The metric the cost model predicts with <paramref name="factors"/>.</summary>
    public double Predict(EfficiencyFactors factors) =>
        Measurement.Metric.Of((_evaluator ??= new CostEvaluator()).Evaluate(Plan, Options with { Efficiency = factors }));

    /// <summary>Relative error of the prediction: predicted / measured - 1.</summary>
    public double Error(EfficiencyFactors factors) => (Predict(factors) / Measurement.Value) - 1;
}

/// <summary>Compiles the plans of measurements (once each) and checks that they make one calibration: one hardware family, unique names.</summary>
public static class MeasurementSet
{
    public static (ImmutableArray<PreparedMeasurement> Cases, ImmutableArray<Diagnostic> Diagnostics) Prepare(IEnumerable<Measurement> measurements, ISourceResolver resolver)
    {
        ArgumentNullException.ThrowIfNull(measurements);
        var diagnostics = new List<Diagnostic>();
        var cases = ImmutableArray.CreateBuilder<PreparedMeasurement>();
        var names = new Dictionary<string, SourceSpan>(StringComparer.Ordinal);
        PreparedMeasurement? first = null;
        var compiled = new Dictionary<(string, string), (DeploymentPlan?, CostOptions?, ImmutableArray<Diagnostic>)>();
        foreach (var m in measurements)
        {
            if (names.TryGetValue(m.Name, out var earlier))
            {
                diagnostics.Add(DiagnosticCodes.MeasurementDuplicateName.Create(m.Span, TextExcerpt.Of(m.Name), earlier));
                continue;
            }

            names[m.Name] = m.Span;
            // Several measurements of one plan (prefill and decode figures of one deployment) compile it once.
            var key = (m.Plan, string.Join("\n", m.Overrides.Select(o => o.Original)));
            if (!compiled.TryGetValue(key, out var plan))
            {
                plan = Compile(m, resolver);
                compiled[key] = plan;
            }

            var (deployment, options, planDiagnostics) = plan;
            if (deployment is null || options is null)
            {
                diagnostics.Add(DiagnosticCodes.MeasurementPlanFailed.Create(m.PlanSpan, m.Plan, planDiagnostics.Count(d => d.IsError)));
                diagnostics.AddRange(planDiagnostics.Where(d => d.IsError));
                continue;
            }

            var prepared = new PreparedMeasurement(PerDevice(m, deployment), deployment, options with { PerfectBalance = m.PerfectBalance });
            if (first is not null && prepared.Family != first.Family)
            {
                diagnostics.Add(DiagnosticCodes.MeasurementFamilyMismatch.Create(m.PlanSpan, prepared.Family, first.Family, first.Measurement.Span));
                continue;
            }

            first ??= prepared;
            cases.Add(prepared);
        }

        return (cases.ToImmutable(), [.. diagnostics]);
    }

    /// <summary>
    /// A figure a serving benchmark printed for the whole deployment, over the devices (ranks) of the pool that produced it:
    /// the decode pool's for decode metrics, the prefill pool's for prefill (the one pool of a colocated plan).
    /// </summary>
    public static Measurement PerDevice(Measurement measurement, DeploymentPlan plan)
    {
        ArgumentNullException.ThrowIfNull(measurement);
        ArgumentNullException.ThrowIfNull(plan);
        if (measurement.Result is not { PerDevice: true } result)
        {
            return measurement;
        }

        var pool = measurement.Metric.Regime == CostRegime.Decode ? plan.Decode : plan.Prefill;
        var devices = pool.Instances.Value * pool.Parallel.Ranks;
        return measurement with { Value = result.Figure / devices, Published = new PublishedFigure(result.Figure, devices, result.Unit) };
    }

    private static (DeploymentPlan?, CostOptions?, ImmutableArray<Diagnostic>) Compile(Measurement m, ISourceResolver resolver)
    {
        var planResolver = m.Overrides.IsEmpty ? resolver : new OverridingResolver(resolver, m.Plan, m.Overrides);
        // Through verification only: an SLO the measured deployment missed does not stop its figures being costed.
        var compiled = PlanCompiler.Compile(m.Plan, planResolver, throughVerification: true);
        if (compiled.Plan is null)
        {
            return (null, null, compiled.Diagnostics);
        }

        var cost = PlanCostEvaluation.Evaluate(compiled.Plan, planResolver);
        return cost.Report is null ? (null, null, cost.Diagnostics) : (compiled.Plan, cost.Options, cost.Diagnostics);
    }

    /// <summary>Applies a measurement's overrides to its plan file only (imports and data files are read as written).</summary>
    private sealed class OverridingResolver(ISourceResolver inner, string plan, ImmutableArray<PlanOverride> overrides) : ISourceResolver
    {
        public string Resolve(string fromFile, string path) => inner.Resolve(fromFile, path);

        public bool TryRead(string resolvedPath, out string text, out string error)
        {
            if (!inner.TryRead(resolvedPath, out text, out error))
            {
                return false;
            }

            if (resolvedPath != plan)
            {
                return true;
            }

            var (overridden, problems) = PlanOverrides.Apply(text, resolvedPath, overrides);
            if (overridden is null)
            {
                error = problems[0].Message;
                return false;
            }

            text = overridden;
            return true;
        }
    }
}
