using System.Globalization;
using MoePlan.Core.Plan;

namespace MoePlan.Core.Binding;

/// <summary>What is wrong with a sweep's values; selects the diagnostic code of a <c>sweep</c> block (MP2030-MP2032).</summary>
public enum SweepValueErrorKind
{
    /// <summary>A value that is not one of the dimension's kind (a word for a number, a number for on/off, below 1 ...).</summary>
    WrongValue,

    /// <summary>A range whose end is below its start.</summary>
    EmptyRange,

    /// <summary>A step of 0, a step without a range, a doubling range from 0.</summary>
    BadStep,
}

/// <param name="Word">Index of the offending word in the list given to <see cref="SweepValues.Parse"/>; -1 for the list as a whole.</param>
public sealed record SweepValueError(SweepValueErrorKind Kind, int Word, string Message);

/// <summary>
/// The values of one search dimension, read from words: the arguments of a <c>sweep</c> setting
/// (<c>decode.max_batch 64 to 256 step 64</c>) or a <c>--vary</c> value split at spaces and commas
/// (<c>decode.max_batch=64..256 step 64</c>). One grammar for both (docs/search.md):
/// <code>
/// item  := number | number "to" number ["step" number | "doubling"] | a..b | a..b*2 | on | off | dp | word
/// </code>
/// </summary>
public static class SweepValues
{
    /// <summary>Values one dimension may take; a sweep with more is refused.</summary>
    public const int MaxValuesPerDimension = 1_000_000;

    /// <summary>The words that structure a value list (never let constants).</summary>
    public static readonly IReadOnlySet<string> Keywords = new HashSet<string>(StringComparer.Ordinal)
    {
        "to", "step", "doubling", "on", "off", "dp", "=dp", "sequential", "parallel", "disaggregated", "aggregated",
    };

    public static bool IsSwitch(SearchDimension d) => d is SearchDimension.DecodeMtp or SearchDimension.PrefillOverlap or SearchDimension.DecodeOverlap;

    public static bool IsExpertParallel(SearchDimension d) => d is SearchDimension.PrefillExpertParallel or SearchDimension.DecodeExpertParallel;

    /// <summary>Dimensions whose integer values may be 0.</summary>
    private static bool AllowsZero(SearchDimension d) => d is SearchDimension.RedundantExperts;

    /// <summary>Parses <paramref name="words"/> as the values of <paramref name="dimension"/>; null with an error when they are not.</summary>
    public static DimensionValues? Parse(SearchDimension dimension, string name, IReadOnlyList<string> words, out SweepValueError? error)
    {
        error = null;
        var values = new List<int>();
        SweepValueError Fail(SweepValueErrorKind kind, int word, string message) => new(kind, word, $"{name}: {message}");
        if (words.Count == 0)
        {
            error = Fail(SweepValueErrorKind.WrongValue, -1, "no values");
            return null;
        }

        for (var i = 0; i < words.Count; i++)
        {
            var item = words[i];
            if (WordsOf(dimension) is { } named)
            {
                // A dimension of words: the value is the word's index (off/on, sequential/parallel, a policy).
                var value = Array.IndexOf(named.Words, item);
                if (value < 0)
                {
                    error = Fail(SweepValueErrorKind.WrongValue, i, $"'{item}' is not {named.What}");
                    return null;
                }

                values.Add(value);
                continue;
            }

            if (IsExpertParallel(dimension) && item is "dp" or "=dp")
            {
                values.Add(SweepDimensions.SameAsDataParallel);
                continue;
            }

            int start, end, step = 1, startWord = i;
            var doubling = false;
            var compact = item.IndexOf("..", StringComparison.Ordinal);
            if (compact >= 0)
            {
                // a..b or a..b*2, as --vary has always taken them.
                var upper = item[(compact + 2)..];
                doubling = upper.EndsWith("*2", StringComparison.Ordinal);
                if (doubling)
                {
                    upper = upper[..^2];
                }

                if (!TryWhole(item[..compact], out start) || !TryWhole(upper, out end))
                {
                    error = Fail(SweepValueErrorKind.WrongValue, i, $"'{item}' is not a range a..b (or a..b*2) of integers with 0 <= a <= b");
                    return null;
                }

                if (end < start)
                {
                    error = Fail(SweepValueErrorKind.EmptyRange, i, $"'{item}' is not a range a..b (or a..b*2) of integers with 0 <= a <= b: it is empty");
                    return null;
                }
            }
            else
            {
                if (!TryWhole(item, out start))
                {
                    error = Fail(SweepValueErrorKind.WrongValue, i, $"'{item}' is not a non-negative integer" + (IsExpertParallel(dimension) ? " or dp" : ""));
                    return null;
                }

                end = start;
                if (At(words, i + 1) == "to")
                {
                    if (!TryWhole(At(words, i + 2), out end))
                    {
                        error = Fail(SweepValueErrorKind.WrongValue, Math.Min(i + 2, words.Count - 1), $"'{start} to' needs a non-negative integer after it, e.g. {start} to {start * 2}");
                        return null;
                    }

                    i += 2;
                    if (end < start)
                    {
                        error = Fail(SweepValueErrorKind.EmptyRange, startWord, $"the range {start} to {end} is empty");
                        return null;
                    }
                }
            }

            if (At(words, i + 1) == "step")
            {
                if (doubling || (compact < 0 && startWord == i))
                {
                    error = Fail(SweepValueErrorKind.BadStep, i + 1, "`step` follows a range `a to b` (or a..b), not a single value or a doubling range");
                    return null;
                }

                if (!TryWhole(At(words, i + 2), out step) || step == 0)
                {
                    error = Fail(SweepValueErrorKind.BadStep, Math.Min(i + 2, words.Count - 1), $"the step must be a whole number of 1 or more, found '{At(words, i + 2) ?? ""}'");
                    return null;
                }

                i += 2;
            }
            else if (At(words, i + 1) == "doubling")
            {
                if (compact >= 0 || startWord == i)
                {
                    error = Fail(SweepValueErrorKind.BadStep, i + 1, "`doubling` follows a range `a to b`");
                    return null;
                }

                doubling = true;
                i += 1;
            }

            if (doubling && start == 0)
            {
                error = Fail(SweepValueErrorKind.BadStep, startWord, $"'{item}': a doubling range must start above 0");
                return null;
            }

            for (long x = start; x <= end; x = doubling ? x * 2 : x + step)
            {
                if (x == 0 && !AllowsZero(dimension))
                {
                    error = Fail(SweepValueErrorKind.WrongValue, startWord, "values must be at least 1");
                    return null;
                }

                values.Add((int)x);
                if (values.Count > MaxValuesPerDimension)
                {
                    error = Fail(SweepValueErrorKind.WrongValue, startWord, $"more than {MaxValuesPerDimension} values");
                    return null;
                }
            }
        }

        return new DimensionValues(dimension, name, values);
    }

    /// <summary>The words of a <c>--vary</c> value: split at commas and white space.</summary>
    public static string[] SplitWords(string spec) =>
        spec.Split([',', ' ', '\t'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    /// <summary>The words of a dimension whose values are words, by value, and how a message names them; null for numbers.</summary>
    private static (string[] Words, string What)? WordsOf(SearchDimension d) => d switch
    {
        _ when IsSwitch(d) => (["off", "on"], "on or off"),
        SearchDimension.ProxyMode => (["sequential", "parallel"], "sequential or parallel"),
        SearchDimension.ServingMode => (["disaggregated", "aggregated"], "disaggregated or aggregated"),
        SearchDimension.ProxyPolicy => ([.. RoutingPolicyCatalog.BuiltNames], $"a proxy policy; expected one of {string.Join(", ", RoutingPolicyCatalog.BuiltNames)}"),
        _ => null,
    };

    private static string? At(IReadOnlyList<string> words, int i) => i < words.Count ? words[i] : null;

    private static bool TryWhole(string? s, out int value) =>
        int.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out value);
}
