using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.RegularExpressions;

namespace Jobplane.Api;

/// <summary>
/// Timestamps as the API accepts them: RFC 3339 with an explicit offset ("Z" or ±hh:mm). A bare
/// local time ("2030-06-01T12:00:00") names no instant: it used to be read in the time zone of
/// whichever replica served the request, so the same request stored different instants.
/// </summary>
public static partial class Rfc3339
{
    /// <summary>What every refusal says is expected.</summary>
    public const string Expected = "an RFC 3339 timestamp with an offset (Z or ±hh:mm), e.g. 2030-06-01T12:00:00Z";

    public static bool TryParse(string? text, out DateTimeOffset value)
    {
        value = default;
        if (text is null) return false;
        var match = Pattern().Match(text.Trim());
        if (!match.Success) return false;
        // .NET keeps 7 fractional digits; RFC 3339 allows any number, so drop the excess rather than refuse.
        var fraction = match.Groups["fraction"].Value;
        if (fraction.Length > 8) fraction = fraction[..8];
        var normalized = $"{match.Groups["date"].Value}T{match.Groups["time"].Value}{fraction}{match.Groups["offset"].Value.ToUpperInvariant()}";
        // The offset is in the text, so neither the server's zone nor its culture plays any part.
        return DateTimeOffset.TryParseExact(normalized, ["yyyy-MM-dd'T'HH:mm:ssK", "yyyy-MM-dd'T'HH:mm:ss.FFFFFFFK"],
            CultureInfo.InvariantCulture, DateTimeStyles.None, out value);
    }

    [GeneratedRegex(@"^(?<date>\d{4}-\d{2}-\d{2})[Tt ](?<time>\d{2}:\d{2}:\d{2})(?<fraction>\.\d+)?(?<offset>[Zz]|[+-]\d{2}:\d{2})$",
        RegexOptions.CultureInvariant)]
    private static partial Regex Pattern();
}

/// <summary>A timestamp in a request body that is not <see cref="Rfc3339.Expected"/>; the path names the field.</summary>
public sealed class InvalidTimestampException(string message) : JsonException(message);

/// <summary>
/// Reads every DateTimeOffset of every contract strictly (<see cref="Rfc3339"/>) and writes it as
/// before (ISO 8601 with its offset). Registered once on <see cref="JobplaneJsonContext"/>, so no
/// contract can forget it; the nullable form goes through it too.
/// </summary>
public sealed class Rfc3339JsonConverter : JsonConverter<DateTimeOffset>
{
    public override DateTimeOffset Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        if (reader.TokenType != JsonTokenType.String) throw new InvalidTimestampException($"expected {Rfc3339.Expected}, got {reader.TokenType}");
        // The canonical form (every timestamp the platform writes: each claimed execution carries
        // several) is read straight from its bytes; the pattern below, which allocates a match, its
        // groups and two strings, judges everything else.
        if (!reader.HasValueSequence && !reader.ValueIsEscaped && IsCanonical(reader.ValueSpan) && reader.TryGetDateTimeOffset(out var canonical))
            return canonical;
        var text = reader.GetString();
        if (Rfc3339.TryParse(text, out var value)) return value;
        var shown = text is { Length: > 64 } ? text[..64] + "..." : text;
        throw new InvalidTimestampException($"expected {Rfc3339.Expected} (got '{shown}')");
    }

    public override void Write(Utf8JsonWriter writer, DateTimeOffset value, JsonSerializerOptions options) => writer.WriteStringValue(value);

    /// <summary>
    /// yyyy-MM-ddTHH:mm:ss, up to 7 fractional digits, then Z or ±hh:mm: a strict subset of what
    /// <see cref="Rfc3339.TryParse"/> accepts, whose values the JSON reader parses to the same instant.
    /// </summary>
    private static bool IsCanonical(ReadOnlySpan<byte> t)
    {
        if (t.Length < 20 || t[4] != '-' || t[7] != '-' || t[10] != 'T' || t[13] != ':' || t[16] != ':') return false;
        if (!Digits(t[..4]) || !Digits(t.Slice(5, 2)) || !Digits(t.Slice(8, 2)) || !Digits(t.Slice(11, 2)) || !Digits(t.Slice(14, 2)) || !Digits(t.Slice(17, 2)))
            return false;
        var rest = t[19..];
        if (rest[0] == '.')
        {
            var fraction = rest[1..].IndexOfAnyExceptInRange((byte)'0', (byte)'9');
            if (fraction is < 1 or > 7) return false;
            rest = rest[(fraction + 1)..];
        }
        return rest is [(byte)'Z'] || (rest.Length == 6 && rest[0] is (byte)'+' or (byte)'-' && Digits(rest.Slice(1, 2)) && rest[3] == ':' && Digits(rest.Slice(4, 2)));
    }

    private static bool Digits(ReadOnlySpan<byte> span) => !span.ContainsAnyExceptInRange((byte)'0', (byte)'9');
}
