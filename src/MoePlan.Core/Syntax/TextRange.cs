namespace MoePlan.Core.Syntax;

/// <summary>Where a syntax node sits in its file. The file itself is known to whoever holds the tree.</summary>
public readonly record struct TextRange(int Start, int Length, int Line, int Column)
{
    public int End => Start + Length;

    public TextRange Through(TextRange last) => this with { Length = Math.Max(End, last.End) - Start };

    public Text.SourceSpan In(string file) => new(file, Start, Length, Line, Column);
}
