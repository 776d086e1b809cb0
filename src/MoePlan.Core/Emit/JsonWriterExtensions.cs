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

    /// <summary>An array of figures, each as <see cref="WriteNumberOrNullValue"/> writes it.</summary>
    public static void WriteNumberArray(this Utf8JsonWriter writer, string name, IEnumerable<double> values)
    {
        ArgumentNullException.ThrowIfNull(writer);
        ArgumentNullException.ThrowIfNull(values);
        writer.WriteStartArray(name);
        foreach (var value in values)
        {
            writer.WriteNumberOrNullValue(value);
        }

        writer.WriteEndArray();
    }

    public static void WriteStringArray(this Utf8JsonWriter writer, string name, IEnumerable<string> values)
    {
        ArgumentNullException.ThrowIfNull(writer);
        ArgumentNullException.ThrowIfNull(values);
        writer.WriteStartArray(name);
        foreach (var value in values)
        {
            writer.WriteStringValue(value);
        }

        writer.WriteEndArray();
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

/// <summary>How every JSON document moeplan prints or writes is laid out: indented, UTF-8 text not escaped beyond need.</summary>
public static class JsonOutput
{
    public static JsonWriterOptions Options => new() { Indented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>One document as text: <paramref name="write"/> writes it (an object, an array) with <see cref="Options"/>.</summary>
    public static string Write(Action<Utf8JsonWriter> write)
    {
        ArgumentNullException.ThrowIfNull(write);
        using var stream = new MemoryStream();
        using (var writer = new Utf8JsonWriter(stream, Options))
        {
            write(writer);
        }

        return System.Text.Encoding.UTF8.GetString(stream.ToArray());
    }
}
