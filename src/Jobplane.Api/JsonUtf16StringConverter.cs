using System.Buffers;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Jobplane.Api;

/// <summary>
/// Reads JSON strings as the UTF-16 they spell, even when an escape names half of a surrogate pair
/// ("\ud800"), which System.Text.Json refuses outright. Its refusal failed the whole request
/// before anything could judge the field: one job's odd byte made a whole batch of results
/// invalid JSON. With this, the string arrives as sent, and each use decides: a name or a command
/// argument is refused naming its field (<see cref="StorableText.Problem"/>), output text (errors,
/// logs) is made storable (<see cref="StorableText.Clean"/>).
/// </summary>
public sealed class JsonUtf16StringConverter : JsonConverter<string>
{
    public override bool HandleNull => false;

    public override string? Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        if (reader.TokenType != JsonTokenType.String) throw new JsonException($"expected a string, got {reader.TokenType}");
        if (!reader.ValueIsEscaped) return reader.GetString();
        var raw = reader.HasValueSequence ? reader.ValueSequence.ToArray() : reader.ValueSpan.ToArray();
        return Unescape(raw);
    }

    public override void Write(Utf8JsonWriter writer, string value, JsonSerializerOptions options) => writer.WriteStringValue(value);

    /// <summary>
    /// Decodes a JSON string's content (already checked by the reader: valid UTF-8, valid escapes),
    /// keeping every \uXXXX as the UTF-16 unit it names.
    /// </summary>
    private static string Unescape(ReadOnlySpan<byte> raw)
    {
        var text = new StringBuilder(raw.Length);
        while (raw.Length > 0)
        {
            var slash = raw.IndexOf((byte)'\\');
            if (slash < 0)
            {
                text.Append(Encoding.UTF8.GetString(raw));
                break;
            }
            text.Append(Encoding.UTF8.GetString(raw[..slash]));
            if (slash + 1 >= raw.Length) throw new JsonException("a string ends in the middle of an escape");
            var kind = raw[slash + 1];
            var used = 2;
            switch (kind)
            {
                case (byte)'"': text.Append('"'); break;
                case (byte)'\\': text.Append('\\'); break;
                case (byte)'/': text.Append('/'); break;
                case (byte)'b': text.Append('\b'); break;
                case (byte)'f': text.Append('\f'); break;
                case (byte)'n': text.Append('\n'); break;
                case (byte)'r': text.Append('\r'); break;
                case (byte)'t': text.Append('\t'); break;
                case (byte)'u':
                    if (slash + 6 > raw.Length || !int.TryParse(Encoding.ASCII.GetString(raw.Slice(slash + 2, 4)), NumberStyles.AllowHexSpecifier,
                            CultureInfo.InvariantCulture, out var unit))
                        throw new JsonException("a \\u escape needs four hexadecimal digits");
                    text.Append((char)unit);
                    used = 6;
                    break;
                default:
                    throw new JsonException($"unknown escape \\{(char)kind} in a string");
            }
            raw = raw[(slash + used)..];
        }
        return text.ToString();
    }
}
