using System.Globalization;
using MoePlan.Core.Text;

namespace MoePlan.Core.Diagnostics;

public enum DiagnosticSeverity
{
    Error,
    Warning,
    Info,
}

/// <summary>One entry of the central list of codes. Codes are never renumbered.</summary>
public sealed record DiagnosticDescriptor(string Code, DiagnosticSeverity Severity, string Title, string MessageFormat)
{
    public Diagnostic Create(SourceSpan? span, params object[] args) => new(this, span, Format(args), null);

    public Diagnostic CreateWithHint(SourceSpan? span, string hint, params object[] args) => new(this, span, Format(args), hint);

    private string Format(object[] args) => string.Format(CultureInfo.InvariantCulture, MessageFormat, args);
}

/// <summary>A user-facing problem: data, never an exception.</summary>
public sealed record Diagnostic(DiagnosticDescriptor Descriptor, SourceSpan? Span, string Message, string? Hint)
{
    public string Code => Descriptor.Code;

    public DiagnosticSeverity Severity => Descriptor.Severity;

    public bool IsError => Severity == DiagnosticSeverity.Error;

    /// <summary>MSBuild style, which editors and CI parse: <c>file(line,col): error MP2001: message</c>.</summary>
    public override string ToString()
    {
        var severity = Severity switch
        {
            DiagnosticSeverity.Error => "error",
            DiagnosticSeverity.Warning => "warning",
            _ => "info",
        };
        var location = Span is { } s ? $"{s.File}({s.Line},{s.Column}): " : "moeplan: ";
        var hint = Hint is null ? "" : $" [hint: {Hint}]";
        return $"{location}{severity} {Code}: {Message}{hint}";
    }
}
