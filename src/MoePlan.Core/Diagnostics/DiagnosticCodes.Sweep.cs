namespace MoePlan.Core.Diagnostics;

/// <summary>Codes of a plan's <c>sweep</c> block (docs/search.md). Unknown and repeated names are MP2001 / MP2002.</summary>
public static partial class DiagnosticCodes
{
    public static readonly DiagnosticDescriptor SweepEmptyRange =
        new("MP2030", DiagnosticSeverity.Error, "Empty sweep range", "sweep {0}");

    public static readonly DiagnosticDescriptor SweepBadStep =
        new("MP2031", DiagnosticSeverity.Error, "Bad sweep step", "sweep {0}");

    public static readonly DiagnosticDescriptor SweepWrongValue =
        new("MP2032", DiagnosticSeverity.Error, "Sweep value of the wrong kind", "sweep {0}");

    public static readonly DiagnosticDescriptor SweepNotApplicable =
        new("MP2033", DiagnosticSeverity.Error, "Sweep does not apply to this plan", "sweep `{0}`: {1}");
}
