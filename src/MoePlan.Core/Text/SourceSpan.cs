namespace MoePlan.Core.Text;

/// <summary>A range of characters in one source file. Line and column are 1-based, as editors show them.</summary>
/// <param name="File">The path as the user gave it (never made absolute: output must not depend on the machine).</param>
public readonly record struct SourceSpan(string File, int Start, int Length, int Line, int Column)
{
    public int End => Start + Length;

    public override string ToString() => $"{File}({Line},{Column})";

    /// <summary>A span covering both spans (they must be in the same file).</summary>
    public SourceSpan Union(SourceSpan other)
    {
        var first = Start <= other.Start ? this : other;
        var end = Math.Max(End, other.End);
        return first with { Length = end - first.Start };
    }
}
