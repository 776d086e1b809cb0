using System.Text.Json;
using MoePlan.Core.Emit;
using MoePlan.Core.Text;

namespace MoePlan.Core.Diagnostics;

/// <summary>
/// Diagnostics as a SARIF 2.1.0 log (what GitHub code scanning and GitLab read): one run of the tool `moeplan`, one rule
/// per diagnostic code (all codes, sorted, so a rule index means the same in every log of a version), one result per
/// diagnostic with its file and region.
/// </summary>
public static class SarifLogWriter
{
    public const string SchemaUri = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json";

    /// <summary>Where the codes are documented, relative to the repository root.</summary>
    public const string DocsPath = "docs/diagnostics.md";

    /// <param name="toolVersion">moeplan's version (the CLI's assembly version).</param>
    /// <param name="diagnostics">Every diagnostic of the run, in the order `check` prints them.</param>
    /// <param name="readSource">The text of a file a diagnostic points into, or null (then the region has no end line
    /// and column, only the start and the character offset and length).</param>
    /// <param name="helpUriBase">An absolute URI of the repository (e.g. its web address on a forge); when given, each
    /// rule's helpUri is <c>{base}/docs/diagnostics.md</c>. SARIF wants an absolute URI there, which moeplan cannot know.</param>
    public static string Write(string toolVersion, IEnumerable<Diagnostic> diagnostics, Func<string, string?> readSource, string? helpUriBase = null)
    {
        ArgumentNullException.ThrowIfNull(diagnostics);
        ArgumentNullException.ThrowIfNull(readSource);
        var rules = DiagnosticCodes.All;
        var ruleIndex = new Dictionary<string, int>(StringComparer.Ordinal);
        for (var i = 0; i < rules.Length; i++)
        {
            ruleIndex[rules[i].Code] = i;
        }

        var lineMaps = new Dictionary<string, LineMap?>(StringComparer.Ordinal);
        LineMap? MapOf(string file)
        {
            if (!lineMaps.TryGetValue(file, out var map))
            {
                map = readSource(file) is { } text ? new LineMap(text) : null;
                lineMaps[file] = map;
            }

            return map;
        }

        string? helpUri = null;
        if (helpUriBase is not null && Uri.TryCreate(helpUriBase.TrimEnd('/') + "/" + DocsPath, UriKind.Absolute, out var absolute))
        {
            helpUri = absolute.AbsoluteUri;
        }

        return JsonOutput.Write(w =>
        {
            w.WriteStartObject();
            w.WriteString("$schema", SchemaUri);
            w.WriteString("version", "2.1.0");
            w.WriteStartArray("runs");
            w.WriteStartObject();
            w.WriteStartObject("tool");
            w.WriteStartObject("driver");
            w.WriteString("name", "moeplan");
            w.WriteString("version", toolVersion);
            w.WriteStartArray("rules");
            foreach (var rule in rules)
            {
                WriteRule(w, rule, helpUri);
            }

            w.WriteEndArray();
            w.WriteEndObject();
            w.WriteEndObject();
            w.WriteString("columnKind", "utf16CodeUnits");
            w.WriteStartArray("results");
            foreach (var diagnostic in diagnostics)
            {
                WriteResult(w, diagnostic, ruleIndex.TryGetValue(diagnostic.Code, out var index) ? index : null, MapOf);
            }

            w.WriteEndArray();
            w.WriteEndObject();
            w.WriteEndArray();
            w.WriteEndObject();
        });
    }

    /// <summary>A path as a SARIF artifact URI: forward slashes, each segment escaped; relative paths stay relative.</summary>
    public static string ArtifactUri(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (Path.IsPathFullyQualified(path))
        {
            return new Uri(path).AbsoluteUri;
        }

        return string.Join('/', path.Replace('\\', '/').Split('/').Select(Uri.EscapeDataString));
    }

    private static string Level(DiagnosticSeverity severity) => severity switch
    {
        DiagnosticSeverity.Error => "error",
        DiagnosticSeverity.Warning => "warning",
        _ => "note",
    };

    private static void WriteRule(Utf8JsonWriter w, DiagnosticDescriptor rule, string? helpUri)
    {
        w.WriteStartObject();
        w.WriteString("id", rule.Code);
        w.WriteString("name", string.Concat(rule.Title.Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(word => char.ToUpperInvariant(word[0]) + word[1..])));
        w.WriteStartObject("shortDescription");
        w.WriteString("text", rule.Title);
        w.WriteEndObject();
        w.WriteStartObject("fullDescription");
        w.WriteString("text", $"{rule.Title}: {rule.MessageFormat}");
        w.WriteEndObject();

        // SARIF message strings use the same {0} placeholders as the descriptors.
        w.WriteStartObject("messageStrings");
        w.WriteStartObject("default");
        w.WriteString("text", rule.MessageFormat);
        w.WriteEndObject();
        w.WriteEndObject();
        if (helpUri is not null)
        {
            w.WriteString("helpUri", helpUri);
        }

        w.WriteStartObject("help");
        w.WriteString("text", $"{rule.Code} ({rule.Title}) is documented in {DocsPath}.");
        w.WriteString("markdown", $"`{rule.Code}` ({rule.Title}) is documented in [{DocsPath}]({helpUri ?? DocsPath}).");
        w.WriteEndObject();
        w.WriteStartObject("defaultConfiguration");
        w.WriteString("level", Level(rule.Severity));
        w.WriteEndObject();
        w.WriteEndObject();
    }

    private static void WriteResult(Utf8JsonWriter w, Diagnostic diagnostic, int? ruleIndex, Func<string, LineMap?> mapOf)
    {
        w.WriteStartObject();
        w.WriteString("ruleId", diagnostic.Code);
        if (ruleIndex is { } index)
        {
            w.WriteNumber("ruleIndex", index);
        }

        w.WriteString("level", Level(diagnostic.Severity));
        w.WriteStartObject("message");
        w.WriteString("text", diagnostic.Hint is null ? diagnostic.Message : $"{diagnostic.Message} [hint: {diagnostic.Hint}]");
        w.WriteEndObject();
        if (diagnostic.Span is { } span)
        {
            w.WriteStartArray("locations");
            w.WriteStartObject();
            w.WriteStartObject("physicalLocation");
            w.WriteStartObject("artifactLocation");
            w.WriteString("uri", ArtifactUri(span.File));
            w.WriteEndObject();
            w.WriteStartObject("region");
            w.WriteNumber("startLine", Math.Max(1, span.Line));
            w.WriteNumber("startColumn", Math.Max(1, span.Column));
            // The end only when the file read now is the one the span was made from (the start agrees).
            if (mapOf(span.File) is { } map && span.End <= map.TextLength && map.PositionOf(span.Start) == (span.Line - 1, span.Column - 1))
            {
                var (endLine, endColumn) = map.PositionOf(span.End);
                w.WriteNumber("endLine", endLine + 1);
                w.WriteNumber("endColumn", endColumn + 1);
            }

            w.WriteNumber("charOffset", Math.Max(0, span.Start));
            w.WriteNumber("charLength", Math.Max(0, span.Length));
            w.WriteEndObject();
            w.WriteEndObject();
            w.WriteEndObject();
            w.WriteEndArray();
        }

        if (diagnostic.Hint is not null)
        {
            w.WriteStartObject("properties");
            w.WriteString("hint", diagnostic.Hint);
            w.WriteEndObject();
        }

        w.WriteEndObject();
    }
}
