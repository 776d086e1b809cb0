using System.Globalization;
using System.Text;

namespace MoePlan.Core.Text;

/// <summary>
/// Input text quoted in a diagnostic: at most a few dozen characters (a 60 MB line must not be echoed back), with
/// line breaks and other control characters shown as escapes so a diagnostic stays one `file(line,col): ...` line.
/// </summary>
public static class TextExcerpt
{
    public const int DefaultLength = 60;

    public static string Of(string text, int maxLength = DefaultLength)
    {
        ArgumentNullException.ThrowIfNull(text);
        var cut = text.Length > maxLength;
        var end = cut ? maxLength : text.Length;
        // Never split a surrogate pair.
        if (cut && end > 0 && char.IsHighSurrogate(text[end - 1]))
        {
            end--;
        }

        var excerpt = new StringBuilder(end + 24);
        for (var i = 0; i < end; i++)
        {
            var c = text[i];
            switch (c)
            {
                case '\n':
                    excerpt.Append("\\n");
                    break;
                case '\r':
                    excerpt.Append("\\r");
                    break;
                case '\t':
                    excerpt.Append("\\t");
                    break;
                default:
                    if (char.IsControl(c) || c is '\u2028' or '\u2029')
                    {
                        excerpt.Append("\\u").Append(((int)c).ToString("x4", CultureInfo.InvariantCulture));
                    }
                    else
                    {
                        excerpt.Append(c);
                    }

                    break;
            }
        }

        if (cut)
        {
            excerpt.Append("... (").Append(text.Length.ToString("N0", CultureInfo.InvariantCulture)).Append(" characters)");
        }

        return excerpt.ToString();
    }
}
