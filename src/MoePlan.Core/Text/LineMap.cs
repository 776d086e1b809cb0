namespace MoePlan.Core.Text;

/// <summary>
/// Character offsets to lines and columns and back, as the parser counts them: a line ends after '\n', a column is one
/// UTF-16 code unit. Lines and columns here are 0-based (as LSP and SARIF end positions need); add 1 for display.
/// </summary>
public sealed class LineMap
{
    private readonly int[] _lineStarts;

    public LineMap(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        TextLength = text.Length;
        var starts = new List<int> { 0 };
        for (var i = 0; i < text.Length; i++)
        {
            if (text[i] == '\n')
            {
                starts.Add(i + 1);
            }
        }

        _lineStarts = [.. starts];
    }

    public int TextLength { get; }

    public int LineCount => _lineStarts.Length;

    /// <summary>The 0-based line and column of <paramref name="offset"/> (clamped to the text).</summary>
    public (int Line, int Column) PositionOf(int offset)
    {
        offset = Math.Clamp(offset, 0, TextLength);
        var line = Array.BinarySearch(_lineStarts, offset);
        if (line < 0)
        {
            line = ~line - 1;
        }

        return (line, offset - _lineStarts[line]);
    }

    /// <summary>The offset of a 0-based line and column (clamped to the line and the text).</summary>
    public int OffsetOf(int line, int column)
    {
        if (line < 0)
        {
            return 0;
        }

        if (line >= _lineStarts.Length)
        {
            return TextLength;
        }

        var lineEnd = line + 1 < _lineStarts.Length ? _lineStarts[line + 1] : TextLength;
        return Math.Clamp(_lineStarts[line] + Math.Max(0, column), _lineStarts[line], lineEnd);
    }
}
