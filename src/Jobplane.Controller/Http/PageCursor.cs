using System.Buffers.Text;
using System.Globalization;
using System.Text;
using Jobplane.Api;
using Jobplane.Store;

namespace Jobplane.Controller.Http;

/// <summary>
/// The opaque cursor of a list page: base64url of the sort key of the last row on the page,
/// tagged with the list it belongs to. It holds a position only, never a scope: every list is
/// scoped by tenant in SQL, so a forged or another tenant's cursor can at most move within the
/// caller's own rows. Anything that does not decode to this list's key is a 400 naming cursor.
/// </summary>
public static class PageCursor
{
    /// <summary>One tag per list, so a cursor from one list is refused by another instead of silently misread.</summary>
    public static class Lists
    {
        public const char Executions = 'e';
        public const char Jobs = 'j';
        public const char DeadLetters = 'd';
        public const char ApiKeys = 'k';
        public const char WorkerCredentials = 'w';
        public const char Tenants = 't';
        public const char Schedules = 's';
    }

    /// <summary>Longest cursor accepted (a tenant name of 200 characters, base64url-encoded, fits).</summary>
    public const int MaxLength = 1024;

    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    public static string Encode(char list, PagePosition position) =>
        Base64Url.EncodeToString(Encoding.UTF8.GetBytes(string.Create(CultureInfo.InvariantCulture,
            $"{list}1.{(position.At.UtcTicks - DateTimeOffset.UnixEpoch.UtcTicks) / 10}.{position.Id:N}")));

    public static string Encode(char list, string name) =>
        Base64Url.EncodeToString(Encoding.UTF8.GetBytes($"{list}1.{name}"));

    /// <summary>A (timestamp, id) position; false with a message naming cursor when it is not one of this list's.</summary>
    public static bool TryDecode(string text, char list, out PagePosition? position, out string? problem)
    {
        position = null;
        if (!TryPayload(text, list, out var payload, out problem)) return false;
        var dot = payload.IndexOf('.');
        if (dot > 0
            && long.TryParse(payload.AsSpan(0, dot), NumberStyles.None, CultureInfo.InvariantCulture, out var micros)
            && micros <= MaxMicros
            && Guid.TryParseExact(payload.AsSpan(dot + 1), "N", out var id))
        {
            position = new PagePosition(DateTimeOffset.UnixEpoch.AddTicks(micros * 10), id);
            return true;
        }
        problem = Malformed;
        return false;
    }

    /// <summary>A name position (tenants); false with a message naming cursor when it is not one.</summary>
    public static bool TryDecode(string text, char list, out string? name, out string? problem)
    {
        name = null;
        if (!TryPayload(text, list, out var payload, out problem)) return false;
        if (payload.Length == 0 || payload.Length > Limits.MaxNameLength || payload.Any(char.IsControl) || StorableText.Problem(payload, "cursor") is not null)
        {
            problem = Malformed;
            return false;
        }
        name = payload;
        return true;
    }

    private const string Malformed = "cursor is not valid: pass the next_cursor of a previous page of this same list unchanged";

    // Up to 9999-12-31, the largest timestamp the controller can answer.
    private static readonly long MaxMicros = (DateTimeOffset.MaxValue.UtcTicks - DateTimeOffset.UnixEpoch.UtcTicks) / 10;

    private static bool TryPayload(string text, char list, out string payload, out string? problem)
    {
        payload = "";
        problem = Malformed;
        if (text.Length > MaxLength) return false;
        byte[] bytes;
        try
        {
            bytes = Base64Url.DecodeFromChars(text);
        }
        catch (FormatException)
        {
            return false;
        }
        string decoded;
        try
        {
            decoded = StrictUtf8.GetString(bytes);
        }
        catch (DecoderFallbackException)
        {
            return false;
        }
        if (decoded.Length < 3 || decoded[0] != list || decoded[1] != '1' || decoded[2] != '.') return false;
        payload = decoded[3..];
        problem = null;
        return true;
    }
}
