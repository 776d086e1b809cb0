namespace MoePlan.Core.Diagnostics;

/// <summary>MP5301..MP5349: request traces read by the serving simulation (Mooncake JSONL, Azure LLM-inference CSV).</summary>
public static partial class DiagnosticCodes
{
    // Both formats (MP5301..MP5309).
    public static readonly DiagnosticDescriptor TraceEmpty = new(
        "MP5301", DiagnosticSeverity.Error, "Empty trace", "the trace has no requests");

    public static readonly DiagnosticDescriptor TraceBadLength = new(
        "MP5302", DiagnosticSeverity.Error, "Bad token count", "{0} '{1}' is not a whole number of tokens from 1 to 2147483647");

    public static readonly DiagnosticDescriptor TraceTimestampOrder = new(
        "MP5303", DiagnosticSeverity.Error, "Timestamps out of order", "the timestamp {0} ms is earlier than the previous request's {1} ms; traces must be in arrival order");

    public static readonly DiagnosticDescriptor TooManyDiagnostics = new(
        "MP5304", DiagnosticSeverity.Error, "Too many problems in one file", "{0} more problem(s) in this file left out after the first {1}");

    // Mooncake JSONL (MP5310..MP5319).
    public static readonly DiagnosticDescriptor TraceJsonSyntax = new(
        "MP5310", DiagnosticSeverity.Error, "JSON syntax error in a trace row", "the row is not a JSON object: {0}");

    public static readonly DiagnosticDescriptor TraceMissingField = new(
        "MP5311", DiagnosticSeverity.Error, "Missing trace field", "the row has no '{0}' ({1})");

    public static readonly DiagnosticDescriptor TraceBadTimestamp = new(
        "MP5312", DiagnosticSeverity.Error, "Bad timestamp", "the timestamp '{0}' is not {1}");

    public static readonly DiagnosticDescriptor TraceHashIdsCount = new(
        "MP5313", DiagnosticSeverity.Error, "hash_ids do not cover the input", "hash_ids has {0} block(s) but an input of {1} tokens in 512-token blocks needs {2}");

    public static readonly DiagnosticDescriptor TraceBadHashId = new(
        "MP5314", DiagnosticSeverity.Error, "Bad hash id", "hash_ids entry '{0}' is not a whole number");

    public static readonly DiagnosticDescriptor TraceBadPrompt = new(
        "MP5315", DiagnosticSeverity.Error, "Bad prompt text", "'prompt' is {0}, not a non-empty string");

    // Azure LLM-inference CSV (MP5320..MP5329).
    public static readonly DiagnosticDescriptor TraceCsvHeader = new(
        "MP5320", DiagnosticSeverity.Error, "Bad trace CSV header", "expected the header 'TIMESTAMP,ContextTokens,GeneratedTokens', found '{0}'");

    public static readonly DiagnosticDescriptor TraceCsvFieldCount = new(
        "MP5321", DiagnosticSeverity.Error, "Wrong number of trace CSV fields", "expected 3 fields (TIMESTAMP,ContextTokens,GeneratedTokens), found {0}");
}
