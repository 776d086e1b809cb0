using System.Text.Json;

namespace MoePlan.Core.Emit;

/// <summary>
/// The one way moeplan writes numbers to JSON: a figure that does not exist (null, NaN, an infinity) is written as JSON
/// null, never thrown on (Utf8JsonWriter refuses non-finite numbers) and never dropped, so every document has the same
/// properties.
/// </summary>
public static class JsonWriterExtensions
{
    public static void WriteNumberOrNull(this Utf8JsonWriter writer, string name, double? value)
    {
        if (value is { } v && double.IsFinite(v))
        {
            writer.WriteNumber(name, v);
        }
        else
        {
            writer.WriteNull(name);
        }
    }

    public static void WriteNumberOrNullValue(this Utf8JsonWriter writer, double? value)
    {
        if (value is { } v && double.IsFinite(v))
        {
            writer.WriteNumberValue(v);
        }
        else
        {
            writer.WriteNullValue();
        }
    }
}
