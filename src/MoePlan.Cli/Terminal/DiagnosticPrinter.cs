using System.Text.Json;
using MoePlan.Core.Diagnostics;

namespace MoePlan.Cli.Terminal;

/// <summary>Diagnostics as MSBuild-style lines (for editors and CI) or as JSON.</summary>
internal static class DiagnosticPrinter
{
    public static void WriteText(TextWriter writer, IEnumerable<Diagnostic> diagnostics)
    {
        foreach (var diagnostic in diagnostics)
        {
            writer.WriteLine(diagnostic.ToString());
        }
    }

    public static void WriteJson(Utf8JsonWriter w, IEnumerable<Diagnostic> diagnostics)
    {
        w.WriteStartArray("diagnostics");
        foreach (var d in diagnostics)
        {
            w.WriteStartObject();
            w.WriteString("code", d.Code);
            w.WriteString("severity", d.Severity.ToString().ToLowerInvariant());
            w.WriteString("message", d.Message);
            if (d.Span is { } span)
            {
                w.WriteString("file", span.File);
                w.WriteNumber("line", span.Line);
                w.WriteNumber("column", span.Column);
                w.WriteNumber("length", span.Length);
            }

            if (d.Hint is not null)
            {
                w.WriteString("hint", d.Hint);
            }

            w.WriteEndObject();
        }

        w.WriteEndArray();
    }
}
