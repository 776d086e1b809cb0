namespace MoePlan.Core.Diagnostics;

/// <summary>MP5600..MP5609: <c>--set PATH=VALUE</c> overrides of a plan's settings.</summary>
public static partial class DiagnosticCodes
{
    public static readonly DiagnosticDescriptor MalformedOverride = new(
        "MP5600", DiagnosticSeverity.Error, "Malformed override", "--set '{0}': {1}");

    public static readonly DiagnosticDescriptor UnknownOverridePath = new(
        "MP5601", DiagnosticSeverity.Error, "Unknown override path", "--set '{0}': {1}");
}
