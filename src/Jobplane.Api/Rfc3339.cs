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
        var text = reader.GetString();
        if (Rfc3339.TryParse(text, out var value)) return value;
        var shown = text is { Length: > 64 } ? text[..64] + "..." : text;
        throw new InvalidTimestampException($"expected {Rfc3339.Expected} (got '{shown}')");
    }

    public override void Write(Utf8JsonWriter writer, DateTimeOffset value, JsonSerializerOptions options) => writer.WriteStringValue(value);
}
