namespace MoePlan.Core.Diagnostics;

/// <summary>MP5610..MP5619: <c>moeplan init</c>'s arguments (no plan exists yet, so these have no location).</summary>
public static partial class DiagnosticCodes
{
    /// <summary>{0} the name given, {1} a suggestion (" (did you mean ...?)") or "".</summary>
    public static readonly DiagnosticDescriptor InitUnknownModel = new(
        "MP5610", DiagnosticSeverity.Error, "Unknown model for init", "--model '{0}' is neither a catalog model nor a config.json file{1}");

    /// <summary>{0} the name given, {1} a suggestion or "".</summary>
    public static readonly DiagnosticDescriptor InitUnknownHardware = new(
        "MP5611", DiagnosticSeverity.Error, "Unknown hardware for init", "--hardware '{0}' is not in the catalog{1}");

    /// <summary>{0} hardware name.</summary>
    public static readonly DiagnosticDescriptor InitDevicesPerNodeMissing = new(
        "MP5612", DiagnosticSeverity.Error, "Node size unknown for init",
        "--hardware {0}: the catalog has no sourced node size (devices per node); give it with --devices-per-node N");

    /// <summary>{0} devices, {1} devices per node.</summary>
    public static readonly DiagnosticDescriptor InitDevicesNotWholeNodes = new(
        "MP5613", DiagnosticSeverity.Error, "Devices are not whole nodes",
        "--devices {0} is not a positive multiple of {1} devices per node");

    /// <summary>{0} input, {1} output, {2} their sum, {3} model, {4} its context.</summary>
    public static readonly DiagnosticDescriptor InitContextExceeded = new(
        "MP5614", DiagnosticSeverity.Error, "Request longer than the model's context",
        "--input {0} + --output {1} = {2} tokens is more than {3}'s context of {4} tokens (max_position_embeddings)");

    /// <summary>{0} model, {1} devices, {2} hardware, {3} why (the most frequent rejections).</summary>
    public static readonly DiagnosticDescriptor InitNoFeasibleShape = new(
        "MP5615", DiagnosticSeverity.Error, "No deployment shape fits",
        "no deployment shape of {0} on {1} {2} passes the verifier: {3}");

    /// <summary>{0} the option, {1} the value, {2} what it must be.</summary>
    public static readonly DiagnosticDescriptor InitInvalidArgument = new(
        "MP5616", DiagnosticSeverity.Error, "Invalid init argument", "{0} {1}: {2}");
}
