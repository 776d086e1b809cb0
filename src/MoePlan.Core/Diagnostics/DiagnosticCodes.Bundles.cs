namespace MoePlan.Core.Diagnostics;

/// <summary>MP3060..MP3079: the workload against the deployment; MP2050..MP2059: names that reach generated files;
/// MP5620..MP5649: inventory files.</summary>
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
