using System.Security.Cryptography;
using System.Text;

namespace Jobplane.Store;

/// <summary>
/// Tenant API keys look like <c>jp_&lt;prefix&gt;_&lt;secret&gt;</c>, worker credentials
/// <c>jpw_&lt;prefix&gt;_&lt;secret&gt;</c>. The prefix is random, not secret,
/// and indexes the key; the secret carries 256 bits of entropy and only its SHA-256 is stored.
/// A fast hash is right here: the secret is random, not a password, so it cannot be guessed
/// from its hash any faster than by brute force of 2^256.
/// </summary>
public static class ApiKeys
{
    public const string Scheme = "jp_";
    public const string WorkerScheme = "jpw_";

    public sealed record NewKey(string Key, string Prefix, byte[] SecretHash);

    public static NewKey Generate(string scheme = Scheme)
    {
        var prefix = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(6));
        var secret = Base64Url(RandomNumberGenerator.GetBytes(32));
        return new NewKey($"{scheme}{prefix}_{secret}", prefix, Hash(secret));
    }

    /// <summary>Splits a presented key into prefix and secret; false when it does not have our shape.</summary>
    public static bool TryParse(string presented, out string prefix, out string secret, string scheme = Scheme)
    {
        prefix = secret = "";
        if (!presented.StartsWith(scheme, StringComparison.Ordinal)) return false;
        var rest = presented.AsSpan(scheme.Length);
        var sep = rest.IndexOf('_');
        if (sep != 12 || rest.Length - sep - 1 < 32) return false;
        prefix = rest[..sep].ToString();
        secret = rest[(sep + 1)..].ToString();
        return true;
    }

    public static byte[] Hash(string secret) => SHA256.HashData(Encoding.UTF8.GetBytes(secret));

    public static bool Matches(string secret, byte[] storedHash) =>
        CryptographicOperations.FixedTimeEquals(Hash(secret), storedHash);

    private static string Base64Url(byte[] bytes) =>
        Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');
}
