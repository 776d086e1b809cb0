using MoePlan.Core.Text;

namespace MoePlan.Core.Binding;

/// <summary>The value of an expression: a quantity or a string.</summary>
public sealed record BoundValue(Quantity? Quantity, string? Text)
{
    public static BoundValue Of(Quantity quantity) => new(quantity, null);

    public static BoundValue Of(string text) => new(null, text);
}

/// <summary>The <c>let</c> constants visible to a deployment: its own and those of the files it imports.</summary>
public sealed class LetScope
{
    private readonly Dictionary<string, (BoundValue Value, SourceSpan Span)> _values = new(StringComparer.Ordinal);

    public IEnumerable<string> Names => _values.Keys;

    public bool TryGet(string name, out BoundValue value)
    {
        if (_values.TryGetValue(name, out var entry))
        {
            value = entry.Value;
            return true;
        }

        value = null!;
        return false;
    }

    public bool TryGetDefinition(string name, out SourceSpan span)
    {
        var found = _values.TryGetValue(name, out var entry);
        span = entry.Span;
        return found;
    }

    public void Define(string name, BoundValue value, SourceSpan span) => _values[name] = (value, span);
}
