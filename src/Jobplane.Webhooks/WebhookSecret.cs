using System.Security.Cryptography;

namespace Jobplane.Webhooks;

/// <summary>
/// An endpoint's signing secret, shown to tenants as <c>whsec_</c> followed by the base64 of the key
/// (the Standard Webhooks serialization, so their libraries accept it as it is).
/// </summary>
public sealed class WebhookSecret
{
    public const string Prefix = "whsec_";

    /// <summary>Bytes of a generated key: 256 bits, the size of HMAC-SHA256's output.</summary>
    public const int GeneratedBytes = 32;

    // The specification's bounds for a symmetric key: at least 192 bits, at most 512.
    public const int MinimumBytes = 24;
    public const int MaximumBytes = 64;

    private readonly byte[] _key;

    private WebhookSecret(byte[] key) => _key = key;

    /// <summary>The key HMAC-SHA256 is computed with.</summary>
    public ReadOnlySpan<byte> Key => _key;

    /// <summary>The serialized form, <c>whsec_</c> + base64: what a tenant is shown and what <see cref="Parse"/> reads.</summary>
    public string Encoded => Prefix + Convert.ToBase64String(_key);

    /// <summary>A new secret from the operating system's cryptographic random source.</summary>
    public static WebhookSecret Generate() => new(RandomNumberGenerator.GetBytes(GeneratedBytes));

    /// <summary>
    /// Reads a secret with or without the <c>whsec_</c> prefix (tenants paste both forms).
    /// Throws <see cref="FormatException"/> saying what is wrong; the message never repeats the input,
    /// which may be most of a real secret.
    /// </summary>
    public static WebhookSecret Parse(string text)
    {
        if (string.IsNullOrWhiteSpace(text))
            throw new FormatException("The webhook secret is empty: expected whsec_ followed by base64.");
        var body = text.Trim();
        if (body.StartsWith(Prefix, StringComparison.Ordinal)) body = body[Prefix.Length..];
        if (body.Length == 0)
            throw new FormatException("The webhook secret has nothing after whsec_: expected base64 of the key.");

        byte[] key;
        try
        {
            key = Convert.FromBase64String(body);
        }
        catch (FormatException)
        {
            throw new FormatException("The webhook secret is not base64 after the whsec_ prefix.");
        }
        if (key.Length is < MinimumBytes or > MaximumBytes)
            throw new FormatException(
                $"The webhook secret's key is {key.Length} bytes; Standard Webhooks keys are {MinimumBytes} to {MaximumBytes} bytes.");
        return new WebhookSecret(key);
    }

    /// <summary>Redacted, so a secret that reaches a log or an exception message does not leak.</summary>
    public override string ToString() => Prefix + "(redacted)";
}
