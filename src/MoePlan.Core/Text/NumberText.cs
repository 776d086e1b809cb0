using System.Globalization;

namespace MoePlan.Core.Text;

/// <summary>
/// Numbers as moeplan prints them: always in the invariant culture (a German locale must not turn 0.5 into 0,5 in a
/// launch flag or a report), and "-" where a figure does not exist (NaN, infinity, null).
/// </summary>
public static class NumberText
{
    /// <summary>With a .NET format string (<c>"0.000"</c>, <c>"N0"</c>, <c>"R"</c>).</summary>
    public static string Format(double value, string format) => value.ToString(format, CultureInfo.InvariantCulture);

    /// <summary>Whole numbers (counts, ids) without grouping.</summary>
    public static string Whole(long value) => value.ToString(CultureInfo.InvariantCulture);

    /// <summary>Three significant-looking digits for reports: 1234 -> "1234", 12.5 -> "12.5", 0.1234 -> "0.123".</summary>
    public static string Compact(double value) =>
        value.ToString(Math.Abs(value) >= 100 ? "0" : Math.Abs(value) >= 1 ? "0.0#" : "0.000", CultureInfo.InvariantCulture);

    /// <summary><see cref="Compact(double)"/>, or "-" when the figure does not exist.</summary>
    public static string CompactOrDash(double? value) => value is { } v && double.IsFinite(v) ? Compact(v) : "-";

    /// <summary><see cref="Format(double, string)"/>, or "-" when the figure does not exist.</summary>
    public static string FormatOrDash(double? value, string format) => value is { } v && double.IsFinite(v) ? Format(v, format) : "-";

    /// <summary>A fraction as a percentage with one decimal: 0.1234 -> "12.3 %".</summary>
    public static string Percent(double fraction) => Format(100 * fraction, "0.0") + " %";
}
