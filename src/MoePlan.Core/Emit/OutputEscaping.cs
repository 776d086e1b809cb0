using System.Globalization;
using System.Text;
using System.Text.Json;

namespace MoePlan.Core.Emit;

/// <summary>
/// One rule per output format for text that reaches a bundle file, exposed to templates as <c>escape.yaml</c>,
/// <c>escape.json</c>, <c>escape.shell</c>, <c>escape.nginx</c> and <c>escape.line</c>. Names (deployment, model, nodes) are
/// validated when the plan is bound (MP2050, MP2051) and need none of these; free strings (file paths, model ids) go
/// through the rule of the format they land in. Every rule keeps line breaks of every kind (CR, LF, NEL U+0085, U+2028,
/// U+2029) from starting a new line in the output: YAML 1.1 and YamlDotNet break lines at all five.
/// </summary>
public static class OutputEscaping
{
    /// <summary>A YAML double-quoted scalar: <c>\</c> and <c>"</c> escaped, and every control character, NEL, line and
    /// paragraph separator and BOM as <c>\xXX</c> / <c>\uXXXX</c>; it parses back to exactly <paramref name="text"/>.</summary>
    public static string Yaml(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var s = new StringBuilder(text.Length + 2).Append('"');
        foreach (var c in text)
        {
            switch (c)
            {
                case '\\':
                    s.Append(@"\\");
                    break;
                case '"':
                    s.Append("\\\"");
                    break;
                default:
                    if (NeedsEscape(c))
                    {
                        s.Append(c <= 0xFF ? $"\\x{(int)c:X2}" : $"\\u{(int)c:X4}");
                    }
                    else
                    {
                        s.Append(c);
                    }

                    break;
            }
        }

        return s.Append('"').ToString();
    }

    /// <summary>A JSON string literal, every non-ASCII character escaped (System.Text.Json's default encoder).</summary>
    public static string Json(string text) => JsonSerializer.Serialize(text ?? throw new ArgumentNullException(nameof(text)));

    /// <summary>One shell word: single-quoted, a <c>'</c> written as <c>'\''</c>. Inside single quotes bash takes every
    /// character literally (line breaks included, no expansion), so the word is exactly <paramref name="text"/>.</summary>
    public static string Shell(string text) =>
        "'" + (text ?? throw new ArgumentNullException(nameof(text))).Replace("'", "'\\''", StringComparison.Ordinal) + "'";

    /// <summary>
    /// An nginx argument. nginx has no escape for <c>$</c> (variables expand in most directives) and keeps line breaks in
    /// quoted strings, so there is no safe quoting: only a plain token (letters, digits, <c>. _ - : /</c>) passes, anything
    /// else stops the render (MP5203).
    /// </summary>
    public static string Nginx(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        if (text.Length == 0 || !text.All(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or '-' or ':' or '/'))
        {
            throw new ArgumentException($"\"{Line(text)}\" cannot be an nginx argument: only letters, digits and . _ - : / are safe there");
        }

        return text;
    }

    /// <summary>Text for one line of a comment or of Markdown: every control character, NEL, line and paragraph separator
    /// becomes a visible <c>\uXXXX</c>, so a comment can never end early.</summary>
    public static string Line(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        if (!text.Any(NeedsEscape))
        {
            return text;
        }

        var s = new StringBuilder(text.Length + 8);
        foreach (var c in text)
        {
            s.Append(NeedsEscape(c) ? "\\u" + ((int)c).ToString("X4", CultureInfo.InvariantCulture) : c.ToString());
        }

        return s.ToString();
    }

    /// <summary>Whether <paramref name="text"/> can be a YAML literal block (<c>|</c>) as it is: no line break other than LF
    /// and no control character other than tab, so each of its lines stays one line of the block. Otherwise a template
    /// writes it with <see cref="Yaml"/>.</summary>
    public static bool YamlBlockSafe(string text) =>
        (text ?? throw new ArgumentNullException(nameof(text))).All(c => c is '\n' or '\t' || !NeedsEscape(c))
        && !text.TrimStart('\n').StartsWith(' '); // the first line sets the block's indentation

    /// <summary>C0 and C1 controls (NEL is U+0085), DEL, the line and paragraph separators, the BOM.</summary>
    public static bool NeedsEscape(char c) =>
        char.IsControl(c) || c is '\u2028' or '\u2029' or '\uFEFF';
}
