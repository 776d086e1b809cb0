namespace MoePlan.Core.Diagnostics;

public static partial class DiagnosticCodes
{
    public static readonly DiagnosticDescriptor UnexpectedToken =
        new("MP1001", DiagnosticSeverity.Error, "Unexpected token", "unexpected {0}, expected {1}");

    public static readonly DiagnosticDescriptor UnterminatedString =
        new("MP1002", DiagnosticSeverity.Error, "Unterminated string", "unterminated string {0}: a string ends with `\"` on the same line");

    public static readonly DiagnosticDescriptor UnexpectedCharacter =
        new("MP1003", DiagnosticSeverity.Error, "Unexpected character", "unexpected character `{0}`");

    public static readonly DiagnosticDescriptor MalformedNumber =
        new("MP1004", DiagnosticSeverity.Error, "Malformed number", "malformed number `{0}`: write a number with an optional unit, e.g. `50ms`, `64GiB`, `200/s`");

    public static readonly DiagnosticDescriptor UnexpectedEndOfFile =
        new("MP1005", DiagnosticSeverity.Error, "Unexpected end of file", "unexpected end of file, expected {0}");

    public static readonly DiagnosticDescriptor NestingTooDeep =
        new("MP1006", DiagnosticSeverity.Error, "Nesting too deep", "nesting too deep: more than {0} levels of parentheses, blocks, negations or chained operators");
}
