using System.Text.Encodings.Web;
using System.Text.Json;

namespace Jobplane.Cli.Output;

/// <summary>Writes JSON as the controller sent it: same fields, same order, only re-indented.</summary>
internal static class JsonOutput
{
    // Relaxed escaping keeps non-ASCII text and characters like '<' and '+' readable on a terminal;
    // the output is for people and jq, never embedded in HTML.
    private static readonly JsonWriterOptions Pretty = new() { Indented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };
    private static readonly JsonWriterOptions Compact = new() { Indented = false, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    public static void WritePretty(TextWriter writer, JsonElement element) => writer.WriteLine(Format(element, Pretty));

    /// <summary>One JSON value per line (JSON Lines), for streams such as followed logs.</summary>
    public static void WriteLine(TextWriter writer, JsonElement element) => writer.WriteLine(Format(element, Compact));

    public static string ToCompactString(JsonElement element) => Format(element, Compact);

    /// <summary>Joins the top-level fields of several objects into one (e.g. submit's create + run answers).</summary>
    public static void WriteMergedPretty(TextWriter writer, params JsonElement[] objects)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer, Pretty))
        {
            json.WriteStartObject();
            var seen = new HashSet<string>(StringComparer.Ordinal);
            foreach (var obj in objects)
            {
                foreach (var property in obj.EnumerateObject())
                {
                    if (seen.Add(property.Name))
                        property.WriteTo(json);
                }
            }
            json.WriteEndObject();
        }
        writer.WriteLine(System.Text.Encoding.UTF8.GetString(buffer.ToArray()));
    }

    private static string Format(JsonElement element, JsonWriterOptions options)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer, options))
            element.WriteTo(json);
        return System.Text.Encoding.UTF8.GetString(buffer.ToArray());
    }
}
