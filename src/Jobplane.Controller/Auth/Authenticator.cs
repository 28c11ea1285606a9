using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;
using Jobplane.Store;

namespace Jobplane.Controller.Auth;

/// <summary>
/// Resolves a bearer credential to a principal. The administrator secret and the shared worker
/// token are compared in constant time (over their SHA-256, so length leaks nothing either); tenant
/// API keys and issued worker credentials are looked up by their non-secret prefix and their hash
/// compared in constant time. Keys are checked against the database on every request (one index
/// probe, no write), which is what makes a revocation take effect at once on every replica; the one
/// exception, submitting a run, checks the key inside its own insert instead (see <see cref="RecentKeys"/>).
/// A tenant key is never accepted as a worker or administrator credential, nor the reverse.
/// </summary>
public sealed partial class Authenticator(
    ControllerOptions options, TenantStore tenants, WorkerCredentialStore workers, RecentKeys recent, TimeProvider time,
    ILogger<Authenticator> logger)
{
    // last_used_at is written at most this often per credential (and replica): it is for people
    // deciding which keys to revoke, not for accounting, and must not cost a write per request.
    private static readonly TimeSpan UsageResolution = TimeSpan.FromMinutes(1);

    private readonly byte[]? _adminHash = HashOrNull(options.SystemSecret);
    private readonly byte[]? _workerHash = HashOrNull(options.WorkerToken);
    private readonly ConcurrentDictionary<Guid, DateTimeOffset> _usageWritten = new();

    /// <summary>
    /// Resolves <paramref name="presented"/> for a route that needs <paramref name="required"/>.
    /// <paramref name="deferrable"/>: the route checks a tenant key again in its own statement, so a
    /// key verified within the last seconds is admitted without asking the database (the principal
    /// says so with <see cref="Principal.KeyCheckDeferred"/>).
    /// </summary>
    public async Task<Principal?> AuthenticateAsync(PrincipalKind required, string? presented, CancellationToken ct, bool deferrable = false)
    {
        if (string.IsNullOrEmpty(presented)) return null;
        switch (required)
        {
            case PrincipalKind.Administrator:
                return SecretMatches(presented, _adminHash) ? new Principal(PrincipalKind.Administrator) : null;
            case PrincipalKind.Worker:
                if (presented.StartsWith(ApiKeys.WorkerScheme, StringComparison.Ordinal))
                {
                    var credential = await workers.FindAsync(presented, ct);
                    if (credential is null) return null;
                    RecordUse(credential.Id, credential.LastUsedAt, workers.TouchAsync);
                    return new Principal(PrincipalKind.Worker)
                    {
                        Actor = $"worker_credential:{credential.Prefix}",
                        WorkerTenants = credential.TenantIds is { Length: > 0 } t ? t : null,
                    };
                }
                return SecretMatches(presented, _workerHash) ? new Principal(PrincipalKind.Worker) { Actor = "worker_token" } : null;
            default:
                if (deferrable && recent.Find(presented) is { } known)
                {
                    RecordUse(known.KeyId, known.LastUsedAt, tenants.TouchKeyAsync);
                    return new Principal(PrincipalKind.Tenant, known.TenantId)
                    {
                        Actor = Actors.TenantKey(known.Prefix),
                        Key = known,
                        KeyCheckDeferred = true,
                    };
                }
                var key = await tenants.FindKeyAsync(presented, ct);
                if (key is null)
                {
                    recent.Forget(presented);
                    return null;
                }
                recent.Remember(presented, key);
                RecordUse(key.KeyId, key.LastUsedAt, tenants.TouchKeyAsync);
                return new Principal(PrincipalKind.Tenant, key.TenantId) { Actor = Actors.TenantKey(key.Prefix), Key = key };
        }
    }

    /// <summary>
    /// True when the presented credential is the administrator secret or the shared worker token the
    /// route needs: known without the database, so a client address that is being throttled for failed
    /// guesses (a worker behind the same NAT as a guesser) still gets in with it.
    /// </summary>
    public bool IsStaticSecret(PrincipalKind required, string presented) => required switch
    {
        PrincipalKind.Administrator => SecretMatches(presented, _adminHash),
        PrincipalKind.Worker => SecretMatches(presented, _workerHash),
        _ => false,
    };

    private void RecordUse(Guid id, DateTimeOffset? lastUsed, Func<Guid, CancellationToken, Task> touch)
    {
        var now = time.GetUtcNow();
        if (lastUsed is { } l && now - l < UsageResolution) return;
        if (_usageWritten.TryGetValue(id, out var written) && now - written < UsageResolution) return;
        _usageWritten[id] = now;
        // Off the request's path: a slow or failed write must not delay or fail the request.
        _ = Task.Run(async () =>
        {
            try { await touch(id, CancellationToken.None); }
            catch (Exception e) { LogUsageFailed(e, id); }
        });
    }

    private static bool SecretMatches(string presented, byte[]? expectedHash) =>
        expectedHash is not null &&
        CryptographicOperations.FixedTimeEquals(SHA256.HashData(Encoding.UTF8.GetBytes(presented)), expectedHash);

    private static byte[]? HashOrNull(string? secret) =>
        secret is null ? null : SHA256.HashData(Encoding.UTF8.GetBytes(secret));

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not record the use of credential {CredentialId}")]
    private partial void LogUsageFailed(Exception e, Guid credentialId);
}
