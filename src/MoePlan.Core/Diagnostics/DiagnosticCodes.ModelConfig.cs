namespace MoePlan.Core.Diagnostics;

/// <summary>MP2101..MP2149: HuggingFace config.json files named by <c>model from "..."</c>.</summary>
public static partial class DiagnosticCodes
{
    /// <summary>{0} file, {1} line, {2} column (1-based), {3} parser message.</summary>
    public static readonly DiagnosticDescriptor ModelConfigInvalidJson = new(
        "MP2101", DiagnosticSeverity.Error, "Model config is not valid JSON",
        "model config '{0}' is not valid JSON at line {1}, column {2}: {3}");

    /// <summary>{0} file, {1} JSON path, {2} what the field is for.</summary>
    public static readonly DiagnosticDescriptor ModelConfigMissingField = new(
        "MP2102", DiagnosticSeverity.Error, "Model config lacks a required field",
        "model config '{0}': required field {1} is missing ({2})");

    /// <summary>{0} file, {1} JSON path, {2} what is wrong, {3} what was found.</summary>
    public static readonly DiagnosticDescriptor ModelConfigInvalidField = new(
        "MP2103", DiagnosticSeverity.Error, "Model config field has a wrong type or value",
        "model config '{0}': {1} {2}, found {3}");

    /// <summary>{0} file, {1} JSON path, {2} the value found, {3} supported values.</summary>
    public static readonly DiagnosticDescriptor ModelConfigUnsupportedModelType = new(
        "MP2104", DiagnosticSeverity.Error, "Model config describes an unsupported architecture",
        "model config '{0}': {1} '{2}' is not supported; supported: {3}");

    /// <summary>{0} file, {1} JSON path, {2} the layout found.</summary>
    public static readonly DiagnosticDescriptor ModelConfigUnsupportedLayerLayout = new(
        "MP2105", DiagnosticSeverity.Error, "Model config has a layer layout moeplan cannot represent",
        "model config '{0}': {1} gives {2}; moeplan supports dense layers only as a prefix followed by MoE layers");

    /// <summary>{0} file, {1} JSON path, {2} what is wrong with it, {3} the precision assumed.</summary>
    public static readonly DiagnosticDescriptor ModelConfigUnknownPrecision = new(
        "MP2106", DiagnosticSeverity.Warning, "Model config weight precision not understood",
        "model config '{0}': weight precision not understood ({1} {2}); assuming {3} weights");
}
