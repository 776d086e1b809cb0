namespace MoePlan.Core.Diagnostics;

/// <summary>
/// Passes on the first <see cref="Limit"/> diagnostics of one input file and counts the rest, so a file of two million
/// bad lines gives a hundred located diagnostics and one line saying how many more there were, not 333 MB of output.
/// </summary>
public sealed class CappedDiagnostics(ICollection<Diagnostic> target, int limit = CappedDiagnostics.DefaultLimit) : ICollection<Diagnostic>
{
    public const int DefaultLimit = 100;

    private int _passed;

    public int Limit { get; } = limit;

    /// <summary>Diagnostics not passed on.</summary>
    public long LeftOut { get; private set; }

    public int Count => target.Count;

    public bool IsReadOnly => false;

    public void Add(Diagnostic item)
    {
        if (_passed < Limit)
        {
            _passed++;
            target.Add(item);
        }
        else
        {
            LeftOut++;
        }
    }

    /// <summary>After the file: one diagnostic counting what was left out, when anything was.</summary>
    public void Complete(Text.SourceSpan? span)
    {
        if (LeftOut > 0)
        {
            target.Add(DiagnosticCodes.TooManyDiagnostics.Create(span, LeftOut, Limit));
        }
    }

    public void Clear() => target.Clear();

    public bool Contains(Diagnostic item) => target.Contains(item);

    public void CopyTo(Diagnostic[] array, int arrayIndex) => target.CopyTo(array, arrayIndex);

    public bool Remove(Diagnostic item) => target.Remove(item);

    public IEnumerator<Diagnostic> GetEnumerator() => target.GetEnumerator();

    System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();
}
