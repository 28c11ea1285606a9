using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace Jobplane.Webhooks;

/// <summary>
/// Standard Webhooks symmetric signatures (v1): HMAC-SHA256 over <c>{webhook-id}.{webhook-timestamp}.{body}</c>,
/// sent as <c>v1,&lt;base64&gt;</c>, one per secret, space-separated, so a receiver keeps accepting
/// deliveries while an endpoint's secret is rotated.
/// </summary>
public static class WebhookSignature
{
    public const string Version = "v1";

    /// <summary>How far a timestamp may be from the receiver's clock: the specification's usual 5 minutes.</summary>
    public static readonly TimeSpan DefaultTolerance = TimeSpan.FromMinutes(5);

    /// <summary>
    /// Signs one delivery attempt with every given secret (the current one, and during a rotation the
    /// previous one too). The timestamp is the attempt's, in whole Unix seconds.
    /// </summary>
    public static WebhookHeaders Sign(string id, DateTimeOffset timestamp, ReadOnlySpan<byte> body, IReadOnlyList<WebhookSecret> secrets)
    {
        // A full stop in the id would let one (id, timestamp) pair's signed content equal another's.
        if (string.IsNullOrEmpty(id) || id.Contains('.', StringComparison.Ordinal) || id.Any(c => char.IsWhiteSpace(c) || char.IsControl(c)))
            throw new ArgumentException("A webhook id must be non-empty, without full stops, spaces or control characters.", nameof(id));
        ArgumentNullException.ThrowIfNull(secrets);
        if (secrets.Count == 0)
            throw new ArgumentException("At least one secret is needed to sign a webhook.", nameof(secrets));

        var seconds = timestamp.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture);
        var content = SignedContent(id, seconds, body);
        var signatures = new string[secrets.Count];
        for (var i = 0; i < secrets.Count; i++)
            signatures[i] = Version + "," + Convert.ToBase64String(HMACSHA256.HashData(secrets[i].Key, content));
        return new WebhookHeaders(id, seconds, string.Join(' ', signatures));
    }

    /// <summary>
    /// Checks a delivery the way a receiver should: the timestamp within <paramref name="tolerance"/>
    /// of <paramref name="now"/> (either side, against replays and against far-future stamps), and at
    /// least one <c>v1</c> signature in the header matching one of <paramref name="secrets"/>, compared
    /// in constant time. Signatures of other versions (e.g. <c>v1a</c>) are passed over, as the
    /// specification asks.
    /// </summary>
    public static WebhookVerification Verify(
        string? id,
        string? timestamp,
        string? signature,
        ReadOnlySpan<byte> body,
        IReadOnlyList<WebhookSecret> secrets,
        DateTimeOffset now,
        TimeSpan? tolerance = null)
    {
        ArgumentNullException.ThrowIfNull(secrets);
        var window = (long)(tolerance ?? DefaultTolerance).TotalSeconds;
        ArgumentOutOfRangeException.ThrowIfNegative(window, nameof(tolerance));
        if (string.IsNullOrEmpty(id)) return WebhookVerification.Invalid($"the {WebhookHeaders.IdName} header is missing");
        if (string.IsNullOrEmpty(timestamp)) return WebhookVerification.Invalid($"the {WebhookHeaders.TimestampName} header is missing");
        if (string.IsNullOrEmpty(signature)) return WebhookVerification.Invalid($"the {WebhookHeaders.SignatureName} header is missing");

        // Digits only: a lenient parse ("+12", " 12") would sign one string and compare another.
        if (!timestamp.All(char.IsAsciiDigit) || !long.TryParse(timestamp, NumberStyles.None, CultureInfo.InvariantCulture, out var seconds))
            return WebhookVerification.Invalid($"the {WebhookHeaders.TimestampName} header is not whole Unix seconds");
        var age = now.ToUnixTimeSeconds() - seconds;
        if (age > window) return WebhookVerification.Invalid($"the timestamp is {age} s old, beyond the {window} s tolerance");
        if (-age > window) return WebhookVerification.Invalid($"the timestamp is {-age} s in the future, beyond the {window} s tolerance");

        var content = SignedContent(id, timestamp, body);
        var expected = new byte[secrets.Count][];
        for (var i = 0; i < secrets.Count; i++)
            expected[i] = Encoding.ASCII.GetBytes(Convert.ToBase64String(HMACSHA256.HashData(secrets[i].Key, content)));

        foreach (var versioned in signature.Split(' ', StringSplitOptions.RemoveEmptyEntries))
        {
            var comma = versioned.IndexOf(',', StringComparison.Ordinal);
            if (comma < 0 || !versioned.AsSpan(0, comma).SequenceEqual(Version)) continue;
            var given = Encoding.ASCII.GetBytes(versioned[(comma + 1)..]);
            foreach (var candidate in expected)
            {
                // FixedTimeEquals: the time taken tells an attacker nothing about how many bytes matched.
                if (CryptographicOperations.FixedTimeEquals(given, candidate)) return WebhookVerification.Valid;
            }
        }
        return WebhookVerification.Invalid("no v1 signature matches the body, id and timestamp");
    }

    private static byte[] SignedContent(string id, string seconds, ReadOnlySpan<byte> body)
    {
        var prefix = Encoding.UTF8.GetBytes($"{id}.{seconds}.");
        var content = new byte[prefix.Length + body.Length];
        prefix.CopyTo(content, 0);
        body.CopyTo(content.AsSpan(prefix.Length));
        return content;
    }
}
