using System.Text.Json;

namespace MoePlan.Core.Emit;

/// <summary>Optional values are written as JSON null, so every document has the same properties.</summary>
public static class JsonWriterExtensions
{
    public static void WriteOptionalNumber(this Utf8JsonWriter writer, string name, double? value)
    {
        if (value is { } v)
        {
            writer.WriteNumber(name, v);
        }
        else
        {
            writer.WriteNull(name);
        }
    }
}
