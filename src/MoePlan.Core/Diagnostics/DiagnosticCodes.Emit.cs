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
}
