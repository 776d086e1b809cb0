namespace MoePlan.Core.Diagnostics;

public static partial class DiagnosticCodes
{
    public static readonly DiagnosticDescriptor FourBitNeedsHardware =
        new("MP3030", DiagnosticSeverity.Error, "FP4 weights need FP4 tensor cores", "{0} weights in `{1}`, but {2} has no sourced FP4 rate: {1} needs FP4 tensor cores ({3})");

    public static readonly DiagnosticDescriptor FourBitNotForPart =
        new("MP3031", DiagnosticSeverity.Error, "FP4 is for weights only", "`{0} {1}`: moeplan models FP4 for weights only ({2})");
}
