using System.Text;
using MoePlan.Core.Text;

namespace MoePlan.Core.Placement;

/// <summary>Turns character or UTF-8 byte offsets of one text into <see cref="SourceSpan"/>s (1-based line and column).</summary>
internal sealed class SourceLocator
{
    private readonly string _file;
    private readonly string _text;
    private readonly int[] _lineStarts;
    private readonly bool _ascii;
    private byte[]? _utf8;

    public SourceLocator(string file, string text)
    {
        _file = file;
        _text = text;
        var starts = new List<int> { 0 };
        var ascii = true;
        for (var i = 0; i < text.Length; i++)
        {
            if (text[i] == '\n')
            {
                starts.Add(i + 1);
            }

            if (text[i] > 127)
            {
                ascii = false;
            }
        }

        _lineStarts = starts.ToArray();
        _ascii = ascii;
    }

    public string File => _file;

    public SourceSpan Span(int start, int length)
    {
        start = Math.Clamp(start, 0, _text.Length);
        var line = Array.BinarySearch(_lineStarts, start);
        if (line < 0)
        {
            line = ~line - 1;
        }

        return new SourceSpan(_file, start, Math.Max(0, Math.Min(length, _text.Length - start)), line + 1, start - _lineStarts[line] + 1);
    }

    /// <summary>A span for a UTF-8 byte range of the text (as <see cref="System.Text.Json.Utf8JsonReader"/> reports positions).</summary>
    public SourceSpan SpanOfBytes(long byteStart, long byteLength)
    {
        if (_ascii)
        {
            return Span((int)byteStart, (int)byteLength);
        }

        _utf8 ??= Encoding.UTF8.GetBytes(_text);
        var start = (int)Math.Min(byteStart, _utf8.Length);
        var end = (int)Math.Min(byteStart + byteLength, _utf8.Length);
        var charStart = Encoding.UTF8.GetCharCount(_utf8, 0, start);
        var charLength = Encoding.UTF8.GetCharCount(_utf8, start, end - start);
        return Span(charStart, charLength);
    }

    /// <summary>A span from a 0-based line and a 0-based byte position in that line (as <see cref="System.Text.Json.JsonException"/> reports).</summary>
    public SourceSpan SpanOfLineByte(long line, long bytePositionInLine)
    {
        var lineIndex = (int)Math.Clamp(line, 0, _lineStarts.Length - 1);
        var lineStart = _lineStarts[lineIndex];
        var lineEnd = lineIndex + 1 < _lineStarts.Length ? _lineStarts[lineIndex + 1] : _text.Length;
        var column = 0;
        var bytes = 0L;
        while (lineStart + column < lineEnd && bytes < bytePositionInLine)
        {
            bytes += Encoding.UTF8.GetByteCount(_text.AsSpan(lineStart + column, 1));
            column++;
        }

        return Span(lineStart + column, 1);
    }
}
