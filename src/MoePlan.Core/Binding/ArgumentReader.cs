using System.Globalization;
using MoePlan.Core.Diagnostics;
using MoePlan.Core.Plan;
using MoePlan.Core.Syntax;
using MoePlan.Core.Text;

namespace MoePlan.Core.Binding;

/// <summary>
/// Reads a setting's arguments left to right against what the setting expects. Every mismatch is reported
/// once, with the setting's usage, and the reader then gives up on that setting (returns nulls).
/// </summary>
public sealed class ArgumentReader(SettingSyntax setting, string usage, string file, ExpressionEvaluator evaluator, ICollection<Diagnostic> diagnostics)
{
    private int _index;
    private bool _failed;

    public SettingSyntax Setting => setting;

    public bool Failed => _failed;

    public SourceSpan Span => setting.Range.In(file);

    public bool AtEnd => _index >= setting.Arguments.Length;

    private ArgumentSyntax? Current => _index < setting.Arguments.Length ? setting.Arguments[_index] : null;

    private SourceSpan CurrentSpan => (Current?.Range ?? setting.Name.Range).In(file);

    /// <summary>True (and consumes it) when the next argument is the bare word <paramref name="word"/>.</summary>
    public bool TryWord(string word)
    {
        if (!_failed && Current is IdentifierSyntax identifier && identifier.Name == word)
        {
            _index++;
            return true;
        }

        return false;
    }

    /// <summary>The next argument as one of <paramref name="allowed"/> words.</summary>
    public Sourced<string>? Word(string what, IReadOnlyCollection<string> allowed)
    {
        if (Next<IdentifierSyntax>() is not { } identifier)
        {
            return null;
        }

        if (!allowed.Contains(identifier.Name))
        {
            diagnostics.Add(DiagnosticCodes.UnknownWord.Create(identifier.Range.In(file), identifier.Name, what,
                string.Join(", ", allowed.Select(a => $"`{a}`")), Suggestions.DidYouMean(identifier.Name, allowed))
                .WithReplacement(identifier.Range.In(file), Suggestions.Closest(identifier.Name, allowed)));
            _failed = true;
            return null;
        }

        return new Sourced<string>(identifier.Name, identifier.Range.In(file));
    }

    /// <summary>The next argument as any bare word (a name looked up elsewhere, e.g. in a catalog).</summary>
    public Sourced<string>? AnyWord() =>
        Next<IdentifierSyntax>() is { } identifier ? new Sourced<string>(identifier.Name, identifier.Range.In(file)) : null;

    public Sourced<string>? Operator() =>
        Next<OperatorSyntax>() is { } op ? new Sourced<string>(op.Text, op.Range.In(file)) : null;

    public Sourced<string>? String()
    {
        if (Evaluate() is not var (expression, value))
        {
            return null;
        }

        if (value.Text is null)
        {
            diagnostics.Add(DiagnosticCodes.WrongArguments.Create(expression.Range.In(file), setting.Name.Name, usage));
            _failed = true;
            return null;
        }

        return new Sourced<string>(value.Text, expression.Range.In(file));
    }

    /// <summary>The next argument as a quantity of <paramref name="dimension"/> (a plain number also accepted when <paramref name="alsoPlain"/>).</summary>
    public Sourced<double>? Quantity(Dimension dimension, bool alsoPlain = false)
    {
        if (!_failed && Current is StringLiteralSyntax)
        {
            ReportMismatch();
            return null;
        }

        if (Evaluate() is not var (expression, value))
        {
            return null;
        }

        var span = expression.Range.In(file);
        if (value.Quantity is not { } quantity)
        {
            diagnostics.Add(DiagnosticCodes.WrongDimension.Create(span, setting.Name.Name, Units.Describe(dimension), "a string"));
            _failed = true;
            return null;
        }

        if (quantity.Dimension != dimension && !(alsoPlain && quantity.Dimension == Dimension.None))
        {
            diagnostics.Add(DiagnosticCodes.WrongDimension.Create(span, setting.Name.Name, Units.Describe(dimension), Units.Describe(quantity.Dimension)));
            _failed = true;
            return null;
        }

        return new Sourced<double>(quantity.Value, span);
    }

    /// <summary>A plain number within [min, max].</summary>
    public Sourced<double>? Number(double min, double max, string range)
    {
        var value = Quantity(Dimension.None);
        if (value is { } v && (v.Value < min || v.Value > max || double.IsNaN(v.Value)))
        {
            return OutOfRange<double>(v.Span, range, v.Value);
        }

        return value;
    }

    /// <summary>A whole number of at least <paramref name="min"/>.</summary>
    public Sourced<int>? Whole(int min)
    {
        var value = Quantity(Dimension.None);
        if (value is not { } v)
        {
            return null;
        }

        if (Math.Abs(v.Value - Math.Round(v.Value)) > 1e-9 || v.Value < min || v.Value > int.MaxValue)
        {
            OutOfRange<double>(v.Span, min == 0 ? "a whole number, 0 or more" : $"a whole number, {min} or more", v.Value);
            return null;
        }

        return new Sourced<int>((int)Math.Round(v.Value), v.Span);
    }

    /// <summary><c>on</c> or <c>off</c>.</summary>
    public Sourced<bool>? Switch()
    {
        var word = Word("switch", ["on", "off"]);
        return word is { } w ? new Sourced<bool>(w.Value == "on", w.Span) : null;
    }

    /// <summary>Reports leftover arguments. Call when the setting's arguments are all read.</summary>
    public void End()
    {
        if (!_failed && Current is not null)
        {
            ReportMismatch();
        }
    }

    private Sourced<T>? OutOfRange<T>(SourceSpan span, string range, double found)
        where T : struct
    {
        diagnostics.Add(DiagnosticCodes.OutOfRange.Create(span, setting.Name.Name, range, found.ToString("0.######", CultureInfo.InvariantCulture)));
        _failed = true;
        return null;
    }

    /// <summary>Consumes the next argument if it is a <typeparamref name="T"/>; otherwise reports the usage.</summary>
    private T? Next<T>()
        where T : ArgumentSyntax
    {
        if (_failed)
        {
            return null;
        }

        if (Current is not T argument)
        {
            ReportMismatch();
            return null;
        }

        _index++;
        return argument;
    }

    /// <summary>Consumes and evaluates the next argument as an expression.</summary>
    private (ExpressionSyntax Expression, BoundValue Value)? Evaluate()
    {
        if (Next<ExpressionSyntax>() is not { } expression)
        {
            return null;
        }

        if (evaluator.Evaluate(expression) is not { } value)
        {
            _failed = true;
            return null;
        }

        return (expression, value);
    }

    private void ReportMismatch()
    {
        diagnostics.Add(DiagnosticCodes.WrongArguments.Create(CurrentSpan, setting.Name.Name, usage));
        _failed = true;
    }
}
