using System.Globalization;
using MoePlan.Core.Diagnostics;
using MoePlan.Core.Syntax;
using MoePlan.Core.Text;

namespace MoePlan.Core.Binding;

/// <summary>Evaluates arithmetic on numbers and quantities, checking units. Errors become diagnostics and a null result.</summary>
public sealed class ExpressionEvaluator(string file, LetScope scope, ICollection<Diagnostic> diagnostics)
{
    /// <summary>
    /// <c>k</c>, <c>K</c>, <c>Ki</c> (1024) and <c>M</c>, <c>Mi</c> (1024 x 1024) after a number: the shorthand of context
    /// lengths (8k = 8192, 128k = 131072, 1M = 1048576), written out as the whole number; null for other suffixes or
    /// a product that is not a whole number.
    /// </summary>
    private static string? MagnitudeSuffix(double value, string suffix) =>
        MagnitudeFactor(suffix) is var factor && factor > 0 && value * factor is var whole && whole == Math.Floor(whole) && whole <= int.MaxValue
            ? whole.ToString("0", CultureInfo.InvariantCulture)
            : null;

    private static long MagnitudeFactor(string suffix) => suffix switch
    {
        "k" or "K" or "Ki" or "ki" => 1024,
        "M" or "Mi" => 1024 * 1024,
        _ => 0,
    };

    public BoundValue? Evaluate(ExpressionSyntax expression)
    {
        switch (expression)
        {
            case NumberLiteralSyntax number:
                return BoundValue.Of(new Quantity(number.Value, Dimension.None));
            case QuantityLiteralSyntax quantity:
                if (!Units.All.TryGetValue(quantity.Unit, out var unit))
                {
                    var whole = quantity.Range.In(file);
                    if (MagnitudeSuffix(quantity.Value, quantity.Unit) is { } plain)
                    {
                        // `8k` is a magnitude, not a unit: the number it stands for replaces the whole literal.
                        diagnostics.Add(DiagnosticCodes.UnknownUnit.Create(whole, quantity.Unit,
                                $": token counts are plain numbers; did you mean `{plain}` ({quantity.Value.ToString(CultureInfo.InvariantCulture)} x {MagnitudeFactor(quantity.Unit)})?")
                            .WithReplacement(whole, plain));
                        return null;
                    }

                    // The fix replaces the unit only: it ends the quantity's text, on the same line.
                    var unitSpan = new SourceSpan(file, whole.End - quantity.Unit.Length, quantity.Unit.Length, whole.Line, whole.Column + whole.Length - quantity.Unit.Length);
                    diagnostics.Add(DiagnosticCodes.UnknownUnit.Create(whole, quantity.Unit, Suggestions.DidYouMean(quantity.Unit, Units.All.Keys))
                        .WithReplacement(unitSpan, Suggestions.Closest(quantity.Unit, Units.All.Keys)));
                    return null;
                }

                return BoundValue.Of(new Quantity(quantity.Value * unit.Factor, unit.Dimension));
            case StringLiteralSyntax text:
                return BoundValue.Of(text.Value);
            case IdentifierSyntax identifier:
                if (scope.TryGet(identifier.Name, out var value))
                {
                    return value;
                }

                diagnostics.Add(DiagnosticCodes.UndefinedName.Create(
                    identifier.Range.In(file), identifier.Name, Suggestions.DidYouMean(identifier.Name, scope.Names)));
                return null;
            case ParenthesizedSyntax parenthesized:
                return Evaluate(parenthesized.Inner);
            case NegationSyntax negation:
                return Evaluate(negation.Operand) switch
                {
                    null => null,
                    { Quantity: { } q } => BoundValue.Of(q with { Value = -q.Value }),
                    _ => Fail(negation.Range, "cannot negate a string"),
                };
            case BinaryExpressionSyntax binary:
                return EvaluateBinary(binary);
            default:
                return Fail(expression.Range, "not a value");
        }
    }

    private BoundValue? EvaluateBinary(BinaryExpressionSyntax binary)
    {
        var left = Evaluate(binary.Left);
        var right = Evaluate(binary.Right);
        if (left is null || right is null)
        {
            return null;
        }

        if (left.Quantity is not { } l || right.Quantity is not { } r)
        {
            return Fail(binary.Range, $"`{binary.Operator}` works on numbers and quantities, not strings");
        }

        switch (binary.Operator)
        {
            case '+':
            case '-':
                if (l.Dimension != r.Dimension)
                {
                    return Fail(binary.Range, $"cannot {(binary.Operator == '+' ? "add" : "subtract")} {Units.Describe(l.Dimension)} and {Units.Describe(r.Dimension)}");
                }

                return BoundValue.Of(new Quantity(binary.Operator == '+' ? l.Value + r.Value : l.Value - r.Value, l.Dimension));
            case '*':
                if (l.Dimension != Dimension.None && r.Dimension != Dimension.None)
                {
                    return Fail(binary.Range, "cannot multiply two quantities with units; one side must be a plain number");
                }

                return BoundValue.Of(new Quantity(l.Value * r.Value, l.Dimension == Dimension.None ? r.Dimension : l.Dimension));
            default:
                if (r.Value == 0)
                {
                    return Fail(binary.Right.Range, "division by zero");
                }

                if (r.Dimension == l.Dimension)
                {
                    return BoundValue.Of(new Quantity(l.Value / r.Value, Dimension.None));
                }

                if (r.Dimension != Dimension.None)
                {
                    return Fail(binary.Range, $"cannot divide {Units.Describe(l.Dimension)} by {Units.Describe(r.Dimension)}");
                }

                return BoundValue.Of(new Quantity(l.Value / r.Value, l.Dimension));
        }
    }

    private BoundValue? Fail(TextRange range, string message)
    {
        diagnostics.Add(DiagnosticCodes.InvalidArithmetic.Create(range.In(file), message));
        return null;
    }

    public static string Show(Quantity quantity) => quantity.Dimension switch
    {
        Dimension.None => quantity.Value.ToString("0.####", CultureInfo.InvariantCulture),
        Dimension.Duration => quantity.Value.ToString("0.####", CultureInfo.InvariantCulture) + "ms",
        Dimension.Bytes => quantity.Value.ToString("0.####", CultureInfo.InvariantCulture) + "B",
        Dimension.Bandwidth => quantity.Value.ToString("0.####", CultureInfo.InvariantCulture) + "B/s",
        Dimension.Rate => quantity.Value.ToString("0.####", CultureInfo.InvariantCulture) + "/s",
        _ => quantity.Value.ToString("0.####", CultureInfo.InvariantCulture) + "usd/device-hour",
    };
}
