using System.Collections.Immutable;
using MoePlan.Core.Binding;
using MoePlan.Core.Cost;
using MoePlan.Core.Diagnostics;
using MoePlan.Core.Parsing;
using MoePlan.Core.Placement;
using MoePlan.Core.Plan;
using MoePlan.Core.Syntax;
using MoePlan.Core.Text;
using MoePlan.Core.Verification;

namespace MoePlan.Core.Compilation;

/// <summary>What compiling one plan file produced. <see cref="Plan"/> is null when there were errors.</summary>
/// <param name="Cost">The cost model's report with the placement imbalances it used (null when compilation stopped earlier).</param>
public sealed record CompilationResult(string Path, FileSyntax? Syntax, DeploymentPlan? Plan, ImmutableArray<Diagnostic> Diagnostics, PlanCostResult? Cost = null)
{
    public bool HasErrors => Diagnostics.Any(d => d.IsError);

    /// <summary>The plan as bound, even when a later stage rejected it (null when parsing or binding failed): what a search
    /// varies when the base plan itself does not check.</summary>
    public DeploymentPlan? Bound { get; init; }

    /// <summary>The plan's <c>loads_over_time</c> windows, read with the placement stage (null without them).</summary>
    public LoadWindows? LoadWindows { get; init; }
}

/// <summary>Drives the stages left to right: text, tokens, syntax (with imports), bound plan, verified plan.</summary>
public static class PlanCompiler
{
    /// <param name="throughVerification">Stop after verification: no placement, no cost model, no SLO check
    /// (for callers that run the later stages themselves, e.g. with other load statistics).</param>
    public static CompilationResult Compile(string path, ISourceResolver resolver, bool throughVerification = false)
    {
        if (!resolver.TryRead(path, out var text, out var error))
        {
            return new CompilationResult(path, null, null, [DiagnosticCodes.ImportNotFound.Create(null, path, error)]);
        }

        return CompileText(path, text, resolver, throughVerification);
    }

    /// <summary>
    /// Diagnostics by file and position (stages find problems in their own order; a reader and a diff want the text's),
    /// those without a location last; the sort is stable, so problems at one place keep the order they were found in.
    /// </summary>
    public static ImmutableArray<Diagnostic> InReadingOrder(IEnumerable<Diagnostic> diagnostics) =>
        [.. diagnostics.OrderBy(d => d.Span is null)
            .ThenBy(d => d.Span?.File, StringComparer.Ordinal)
            .ThenBy(d => d.Span?.Start ?? 0)];

    /// <param name="placements">Remembers expert placements between compilations of the same plan (the language server's).</param>
    public static CompilationResult CompileText(string path, string text, ISourceResolver resolver, bool throughVerification = false, PlacementMemo? placements = null)
    {
        var parsed = MoeParser.Parse(text, path);
        if (parsed.Syntax is null)
        {
            return new CompilationResult(path, null, null, parsed.Diagnostics);
        }

        var diagnostics = new List<Diagnostic>();
        var imports = new List<SourceFileSyntax>();
        LoadImports(new SourceFileSyntax(path, parsed.Syntax), resolver, [path], new HashSet<string>(StringComparer.Ordinal) { path }, imports, diagnostics);
        if (diagnostics.Any(d => d.IsError))
        {
            return new CompilationResult(path, parsed.Syntax, null, InReadingOrder(diagnostics));
        }

        var bound = DeploymentBinder.Bind(new SourceFileSyntax(path, parsed.Syntax), imports, resolver);
        diagnostics.AddRange(bound.Diagnostics);
        if (bound.Plan is null)
        {
            return new CompilationResult(path, parsed.Syntax, null, InReadingOrder(diagnostics));
        }

        diagnostics.AddRange(PlanVerifier.Verify(bound.Plan));
        PlanCostResult? cost = null;
        if (!throughVerification && !diagnostics.Any(d => d.IsError))
        {
            // The placement stage reads the plan's load statistics; the cost model then checks the SLOs.
            cost = PlanCostEvaluation.Evaluate(bound.Plan, resolver, placements: placements);
            diagnostics.AddRange(cost.Diagnostics);
            if (cost.Report is { } report)
            {
                diagnostics.AddRange(SloFeasibility.Check(bound.Plan, report));
                if (bound.Plan.Workload.Trace is not null)
                {
                    diagnostics.AddRange(WorkloadFit.CheckContext(bound.Plan, cost.Options.Lengths));
                }

                diagnostics.AddRange(WorkloadFit.CheckRate(bound.Plan, report, cost.Options.Lengths));
            }
        }

        LoadWindows? windows = null;
        if (!throughVerification && !diagnostics.Any(d => d.IsError) && bound.Plan.Placement.LoadsOverTime is not null)
        {
            // The serving simulation's load windows: read with the placement stage, so `check` reports a bad file.
            var (read, windowDiagnostics) = LoadWindowsReader.Read(bound.Plan, resolver);
            diagnostics.AddRange(windowDiagnostics);
            windows = read;
        }

        var hasErrors = diagnostics.Any(d => d.IsError);
        return new CompilationResult(path, parsed.Syntax, hasErrors ? null : bound.Plan, InReadingOrder(diagnostics), hasErrors ? null : cost) { Bound = bound.Plan, LoadWindows = hasErrors ? null : windows };
    }

    private static void LoadImports(
        SourceFileSyntax file,
        ISourceResolver resolver,
        List<string> stack,
        HashSet<string> loaded,
        List<SourceFileSyntax> ordered,
        List<Diagnostic> diagnostics)
    {
        foreach (var import in file.Syntax.Statements.OfType<ImportSyntax>())
        {
            var span = import.Path.Range.In(file.Path);
            var resolved = resolver.Resolve(file.Path, import.Path.Value);
            if (stack.Contains(resolved, StringComparer.Ordinal))
            {
                diagnostics.Add(DiagnosticCodes.ImportCycle.Create(span, string.Join(" -> ", stack.Append(resolved))));
                continue;
            }

            if (!loaded.Add(resolved))
            {
                continue;
            }

            if (!resolver.TryRead(resolved, out var text, out var error))
            {
                diagnostics.Add(DiagnosticCodes.ImportNotFound.Create(span, resolved, error));
                continue;
            }

            var parsed = MoeParser.Parse(text, resolved);
            diagnostics.AddRange(parsed.Diagnostics);
            if (parsed.Syntax is null)
            {
                continue;
            }

            foreach (var deployment in parsed.Syntax.Statements.OfType<DeploymentSyntax>())
            {
                diagnostics.Add(DiagnosticCodes.DeploymentInImport.Create(deployment.Range.In(resolved), resolved));
            }

            var imported = new SourceFileSyntax(resolved, parsed.Syntax);
            stack.Add(resolved);
            LoadImports(imported, resolver, stack, loaded, ordered, diagnostics);
            stack.RemoveAt(stack.Count - 1);
            ordered.Add(imported);
        }
    }
}
