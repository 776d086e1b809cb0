namespace MoePlan.Core.Diagnostics;

/// <summary>MP3060..MP3069: the workload against the deployment (MP3070..: the inventory, DiagnosticCodes.Inventory.cs);
/// MP2050..MP2059: names that reach generated files.</summary>
public static partial class DiagnosticCodes
{
    /// <summary>{0} which lengths (statistic), {1} tokens, {2} the decode context.</summary>
    public static readonly DiagnosticDescriptor WorkloadExceedsContext =
        new("MP3060", DiagnosticSeverity.Error, "Workload does not fit the context", "{0} is {1} tokens, more than the decode `context {2}`: the engines reject or cut such requests");

    /// <summary>{0} offered rate, {1} where it comes from, {2} capacity, {3} the limiting pool, {4} prefill capacity, {5} decode capacity.</summary>
    public static readonly DiagnosticDescriptor OfferedRateExceedsCapacity =
        new("MP3061", DiagnosticSeverity.Warning, "Offered rate exceeds capacity", "the workload offers {0} req/s ({1}) but the cost model gives the deployment {2} req/s, limited by {3} (prefill {4} req/s, decode {5} req/s): queues grow without bound");

    /// <summary>{0} the longest request's tokens, {1} the decode context, {2} the p99.</summary>
    public static readonly DiagnosticDescriptor LongestRequestExceedsContext =
        new("MP3062", DiagnosticSeverity.Warning, "Some requests exceed the context", "the trace's longest request has {0} tokens (prompt + output), more than the decode `context {1}` (p99 {2} fits): the engines reject or cut the longest requests");
}

public static partial class DiagnosticCodes
{
    /// <summary>{0} the name as written (control characters and line separators escaped), {1} why, {2} a name that would do.</summary>
    public static readonly DiagnosticDescriptor InvalidDeploymentName =
        new("MP2050", DiagnosticSeverity.Error, "Invalid deployment name", "deployment name \"{0}\" {1}: the name becomes Kubernetes object names, host names and file names, so it must be a DNS-1123 name (lower-case letters, digits, '-' and '.', starting and ending with a letter or digit, at most 63 characters)");

    /// <summary>{0} the model name (escaped), {1} the config file.</summary>
    public static readonly DiagnosticDescriptor InvalidModelName =
        new("MP2051", DiagnosticSeverity.Error, "Invalid model name", "the model name \"{0}\" taken from the file name `{1}` has characters other than letters, digits, '.', '_' and '-': it becomes the engines' served model name and a path in the bundle");
}
