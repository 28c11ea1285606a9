using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;
using Jobplane.Store;

namespace Jobplane.Controller.Auth;

/// <summary>
/// Tenant API keys this replica verified against the database in the last few seconds, so that a
/// submission can be admitted without a transaction of its own. Only routes whose own statement
/// checks the key again (see <see cref="KeyCheckedInTransaction"/>) may use it: a revoked key or a
/// suspended tenant still gets nothing done there, at once, on every replica. The same holds for a
/// key that expired or was revoked because the key that minted it was: that statement checks expiry
/// (by the database clock) and revocation, and an entry never outlives the time its key had left when
/// the database verified it. Entries are found by the SHA-256 of the presented key, so the secret
/// itself is not kept; suspended tenants' keys are never remembered (a refusal is never served from here).
/// </summary>
public sealed class RecentKeys(TimeProvider time)
{
    /// <summary>How long a verification is reused; it also bounds how stale the tenant's rate limit can be on these routes.</summary>
    public static readonly TimeSpan Lifetime = TimeSpan.FromSeconds(10);
    private const int MaxEntries = 10_000;

    private readonly ConcurrentDictionary<string, (TenantKey Key, long VerifiedAt, TimeSpan Life)> _keys = new(StringComparer.Ordinal);

    public TenantKey? Find(string presented)
    {
        var id = Id(presented);
        if (!_keys.TryGetValue(id, out var entry)) return null;
        if (time.GetElapsedTime(entry.VerifiedAt) < entry.Life) return entry.Key;
        _keys.TryRemove(id, out _);
        return null;
    }

    public void Remember(string presented, TenantKey key)
    {
        if (key.Suspended) return;
        // The time left is the database's judgement, measured here from the verification on: the
        // entry ends no later than the key does, whatever this host's clock says.
        var life = key.TimeLeft is { } left && left < Lifetime ? left : Lifetime;
        if (life <= TimeSpan.Zero) return;
        // A crude bound: far more keys in use than this on one replica means the cache is not what limits it.
        if (_keys.Count >= MaxEntries) _keys.Clear();
        _keys[Id(presented)] = (key, time.GetTimestamp(), life);
    }

    /// <summary>True when this replica verified the presented key against the database within the last few seconds.</summary>
    public bool Knows(string presented) => Find(presented) is not null;

    public void Forget(string presented) => _keys.TryRemove(Id(presented), out _);

    private static string Id(string presented) => Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(presented)));
}

/// <summary>
/// Endpoint metadata: this route's own statement verifies the caller's API key (unrevoked, tenant
/// not suspended), so authentication may admit a recently verified key without a database round trip.
/// </summary>
public sealed class KeyCheckedInTransaction
{
    public static readonly KeyCheckedInTransaction Instance = new();
}
