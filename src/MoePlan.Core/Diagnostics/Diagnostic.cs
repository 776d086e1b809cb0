using System.Collections.Immutable;
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

/// <summary>Replace the text at <paramref name="Span"/> (length 0: insert there) with <paramref name="NewText"/>.</summary>
public sealed record TextEdit(SourceSpan Span, string NewText);

/// <summary>
/// A hint that is a concrete edit of the plan: applied, the diagnostic goes away without causing another (a property
/// test applies every fix of the invalid-plan baselines and checks again). Editors offer it as a quick fix.
/// </summary>
public sealed record DiagnosticFix(string Title, ImmutableArray<TextEdit> Edits);

/// <summary>A user-facing problem: data, never an exception.</summary>
public sealed record Diagnostic(DiagnosticDescriptor Descriptor, SourceSpan? Span, string Message, string? Hint)
{
    /// <summary>The hint as an edit, where it is one.</summary>
    public DiagnosticFix? Fix { get; init; }

    /// <summary>This diagnostic with a fix made of <paramref name="edits"/>.</summary>
    public Diagnostic WithFix(string title, params TextEdit[] edits) => this with { Fix = new DiagnosticFix(title, [.. edits]) };

    /// <summary>This diagnostic with "replace the text at <paramref name="span"/> by <paramref name="replacement"/>", when there is one.</summary>
    public Diagnostic WithReplacement(SourceSpan? span, string? replacement) =>
        span is { } s && replacement is not null ? WithFix($"Replace with `{replacement}`", new TextEdit(s, replacement)) : this;

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
