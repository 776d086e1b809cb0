using Microsoft.CodeAnalysis;
using MoePlan.Core.Text;

namespace MoePlan.Scripting;

/// <summary>Locations in the script's own file, as the diagnostics' spans (1-based line and column).</summary>
internal static class ScriptLocation
{
    public static SourceSpan Of(string path, Location location)
    {
        var line = location.GetLineSpan().StartLinePosition;
        return new SourceSpan(path, location.SourceSpan.Start, location.SourceSpan.Length, line.Line + 1, line.Character + 1);
    }

    /// <summary>The first non-blank character of a 1-based line (a runtime location known only by its line).</summary>
    public static SourceSpan AtLine(string path, string text, int line)
    {
        int start = 0;
        for (int l = 1; l < line && start < text.Length; l++)
        {
            int next = text.IndexOf('\n', start);
            start = next < 0 ? text.Length : next + 1;
        }

        int column = 1;
        while (start < text.Length && text[start] is ' ' or '\t')
        {
            start++;
            column++;
        }

        int end = text.IndexOf('\n', start);
        return new SourceSpan(path, start, Math.Max(0, (end < 0 ? text.Length : end) - start), line, column);
    }
}
