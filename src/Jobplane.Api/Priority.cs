using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Jobplane.Api;

/// <summary>
/// An execution priority, 0..100 (higher runs first). On the wire it is a number, or one of the
/// names low|normal|high|critical (0/50/75/100); it is always written back as a number.
/// </summary>
[JsonConverter(typeof(PriorityJsonConverter))]
public readonly record struct Priority
{
    public const int Min = 0;
    public const int Max = 100;

    public static readonly Priority Low = new(0);
    public static readonly Priority Normal = new(50);
    public static readonly Priority High = new(75);
    public static readonly Priority Critical = new(100);

    public int Value { get; }

    public Priority(int value)
    {
        if (value is < Min or > Max)
            throw new ArgumentOutOfRangeException(nameof(value), value, "priority must be between 0 and 100");
        Value = value;
    }

    /// <summary>Parses a number 0..100 or a priority name; returns false with a message otherwise.</summary>
    public static bool TryParse(string? text, out Priority priority, out string? error)
    {
        priority = Normal;
        error = null;
        var s = text?.Trim() ?? "";
        switch (s.ToLowerInvariant())
        {
            case "low": priority = Low; return true;
            case "normal": priority = Normal; return true;
            case "high": priority = High; return true;
            case "critical": priority = Critical; return true;
        }
        if (int.TryParse(s, NumberStyles.Integer, CultureInfo.InvariantCulture, out var n) && n is >= Min and <= Max)
        {
            priority = new Priority(n);
            return true;
        }
        error = $"priority must be a number 0..100 or one of low, normal, high, critical (got '{text}')";
        return false;
    }

    public override string ToString() => Value.ToString(CultureInfo.InvariantCulture);
}

/// <summary>Reads a priority from a JSON number or name; writes it as a number.</summary>
public sealed class PriorityJsonConverter : JsonConverter<Priority>
{
    public override Priority Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        string? text = reader.TokenType switch
        {
            JsonTokenType.Number when reader.TryGetInt32(out var n) => n.ToString(CultureInfo.InvariantCulture),
            JsonTokenType.Number => "non-integer number",
            JsonTokenType.String => reader.GetString(),
            _ => throw new JsonException("priority must be a number 0..100 or a name (low, normal, high, critical)"),
        };
        return Priority.TryParse(text, out var p, out var error) ? p : throw new JsonException(error);
    }

    public override void Write(Utf8JsonWriter writer, Priority value, JsonSerializerOptions options) =>
        writer.WriteNumberValue(value.Value);
}
