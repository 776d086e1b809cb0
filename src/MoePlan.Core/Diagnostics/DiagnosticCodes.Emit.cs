namespace MoePlan.Core.Diagnostics;

/// <summary>MP5201..MP5249: writing bundles (templates and the files they need).</summary>
public static partial class DiagnosticCodes
{
    /// <summary>{0} template name, {1} why it could not be loaded.</summary>
    public static readonly DiagnosticDescriptor TemplateNotFound = new(
        "MP5201", DiagnosticSeverity.Error, "Template not found", "cannot load template '{0}': {1}");

    /// <summary>{0} the template parser's message. The span points at the template file, line and column.</summary>
    public static readonly DiagnosticDescriptor TemplateSyntax = new(
        "MP5202", DiagnosticSeverity.Error, "Template syntax error", "template syntax error: {0}");

    /// <summary>{0} the template engine's message. The span points at the template file, line and column.</summary>
    public static readonly DiagnosticDescriptor TemplateRender = new(
        "MP5203", DiagnosticSeverity.Error, "Template render error", "template error: {0}");

    /// <summary>{0} the target, {1} why it needs prefill and decode pools. The span is the plan's serve pool.</summary>
    public static readonly DiagnosticDescriptor TargetNeedsDisaggregated = new(
        "MP5204", DiagnosticSeverity.Error, "Target needs prefill and decode pools", "--target {0} has no aggregated form ({1}), but this plan serves aggregated (`serve`)");

    /// <summary>{0} the rebalance algorithm, {1} the engine's own. The span is the plan's <c>rebalance</c>.</summary>
    public static readonly DiagnosticDescriptor RebalanceAlgorithmNotInEngine = new(
        "MP5205", DiagnosticSeverity.Warning, "Engine rebalances with its own algorithm",
        "the engine cannot run `{0}` when it rebalances: it re-places with {1}; the plan's placement is only the first layout");

    /// <summary>{0} the engine. The span is the plan's <c>rebalance when</c>.</summary>
    public static readonly DiagnosticDescriptor RebalanceThresholdNotInEngine = new(
        "MP5206", DiagnosticSeverity.Warning, "Engine has no imbalance threshold",
        "{0} has no imbalance threshold for rebalancing: the bundle rebalances at every check period instead");

    /// <summary>The span is the plan's <c>rebalance</c>.</summary>
    public static readonly DiagnosticDescriptor RebalanceNeedsStepTime = new(
        "MP5207", DiagnosticSeverity.Error, "Rebalance interval needs the step time",
        "the engines count a rebalance interval in forward passes, and the cost model did not give this plan's step time");
}
