using System.Security.Cryptography;
using System.Text;
using Jobplane.Controller.Auth;
using Jobplane.Controller.RateLimiting;
using Jobplane.Store;
using Jobplane.Store.Dashboard;

namespace Jobplane.Controller.Dashboard;

/// <summary>
/// Dashboard sign-in: an API key or the administrator secret, checked exactly as the API checks it
/// (<see cref="Authenticator"/>, with the same per-address throttle on failures), exchanged for a
/// session cookie. The cookie holds 256 random bits; the database keeps their SHA-256. The cookie is
/// HttpOnly, SameSite=Strict, and over TLS Secure with the __Host- prefix (bound to this host and
/// path /); it lasts UI_SESSION_LIFETIME. Sessions are rows, not signed tickets, so any replica
/// reads them and they end with their key: no key ring to share between replicas.
/// </summary>
public sealed class DashboardSessions(SessionStore store, Authenticator auth, AuthFailureThrottle throttle, TenantRateLimiter limiter,
    ControllerMetrics metrics, ControllerOptions options)
{
    public const string CookieName = "jp_session";
    /// <summary>Over TLS: the browser only accepts it with Secure, Path=/ and no Domain.</summary>
    public const string SecureCookieName = "__Host-jp_session";

    private readonly byte[]? _adminKey = options.SystemSecret is { } s ? Encoding.UTF8.GetBytes(s) : null;

    /// <summary>
    /// Throttled: too many failed sign-ins from the address. RateLimited: the key has a request rate
    /// limit and this sign-in, charged to it like an API request, is over it.
    /// </summary>
    public enum SignInResult { SignedIn, Refused, Throttled, RateLimited }

    /// <summary>Checks <paramref name="presented"/> and, when it is good, sets the session cookie.</summary>
    public async Task<(SignInResult Result, TimeSpan RetryAfter)> SignInAsync(HttpContext http, string? presented, CancellationToken ct)
    {
        presented = presented?.Trim();
        var address = http.Connection.RemoteIpAddress;
        var isAdmin = !string.IsNullOrEmpty(presented) && auth.IsStaticSecret(PrincipalKind.Administrator, presented);
        if (!isAdmin && throttle.RetryAfter(address) is { } wait) return (SignInResult.Throttled, wait);
        Principal? tenant = null;
        if (!isAdmin && !string.IsNullOrEmpty(presented) && presented.StartsWith(ApiKeys.Scheme, StringComparison.Ordinal))
            tenant = await auth.AuthenticateAsync(PrincipalKind.Tenant, presented, ct);
        if (!isAdmin && tenant?.Key is null)
        {
            if (!string.IsNullOrEmpty(presented)) throttle.Failed(address);
            return (SignInResult.Refused, TimeSpan.Zero);
        }

        // A sign-in writes rows (a session, perhaps an audit record), so a key with a rate limit pays
        // for it like any API request: a sign-in loop runs no faster than the key's other calls.
        if (tenant?.Key is { RateLimit: { } rate } key)
        {
            var decision = await limiter.AcquireAsync(tenant.TenantId, rate, key.RateLimitBurst ?? Math.Max(1, (int)Math.Ceiling(rate)), ct);
            if (!decision.Allowed)
            {
                metrics.RateLimited(tenant.TenantId);
                return (SignInResult.RateLimited, decision.RetryAfter);
            }
        }

        var token = RandomNumberGenerator.GetBytes(32);
        var tokenHash = SHA256.HashData(token);
        var csrf = Convert.ToBase64String(RandomNumberGenerator.GetBytes(32));
        var lifetime = options.Dashboard.SessionLifetime;
        if (isAdmin)
            await store.CreateAsync(tokenHash, null, null, AdminProof(tokenHash), csrf, lifetime, options.Dashboard.SessionsPerKey, Actors.Administrator, ct);
        else
            await store.CreateAsync(tokenHash, tenant!.TenantId, tenant.Key!.KeyId, null, csrf, lifetime, options.Dashboard.SessionsPerKey, tenant.Actor, ct);

        var secure = http.Request.IsHttps;
        http.Response.Cookies.Append(secure ? SecureCookieName : CookieName, Base64Url(token), new CookieOptions
        {
            HttpOnly = true,
            SameSite = SameSiteMode.Strict,
            Secure = secure,
            Path = "/",
            MaxAge = lifetime,
            IsEssential = true,
        });
        return (SignInResult.SignedIn, TimeSpan.Zero);
    }

    /// <summary>The viewer of this request's session, or null when there is none that is still good.</summary>
    public async Task<Viewer?> ResolveAsync(HttpContext http, CancellationToken ct)
    {
        if (TokenHash(http) is not { } hash) return null;
        var session = await store.FindAsync(hash, ct);
        if (session is null) return null;
        if (session.TenantId is null)
        {
            // The administrator secret changed (or was unset) since this session began: it has ended.
            if (session.AdminProof is null || AdminProof(hash) is not { } proof || !CryptographicOperations.FixedTimeEquals(proof, session.AdminProof))
                return null;
            return new Viewer { IsAdministrator = true, CsrfToken = session.CsrfToken, ExpiresAt = session.ExpiresAt };
        }
        return new Viewer
        {
            IsAdministrator = false,
            TenantId = session.TenantId,
            TenantName = session.TenantName,
            TenantSuspended = session.TenantSuspended,
            KeyId = session.ApiKeyId,
            KeyPrefix = session.KeyPrefix,
            ReadOnly = session.ReadOnly,
            CsrfToken = session.CsrfToken,
            ExpiresAt = session.ExpiresAt,
        };
    }

    public async Task SignOutAsync(HttpContext http, CancellationToken ct)
    {
        if (TokenHash(http) is { } hash) await store.DeleteAsync(hash, ct);
        foreach (var name in new[] { CookieName, SecureCookieName })
        {
            if (http.Request.Cookies.ContainsKey(name))
                http.Response.Cookies.Delete(name, new CookieOptions { Path = "/", Secure = name == SecureCookieName, HttpOnly = true, SameSite = SameSiteMode.Strict });
        }
    }

    /// <summary>True when <paramref name="presented"/> is the session's synchronizer token (compared in constant time).</summary>
    public static bool CsrfMatches(Viewer viewer, string? presented) =>
        presented is not null && CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(presented), Encoding.UTF8.GetBytes(viewer.CsrfToken));

    private static byte[]? TokenHash(HttpContext http)
    {
        // Over TLS only the __Host- cookie counts: a plain-HTTP response could have planted the other one.
        var value = http.Request.IsHttps ? http.Request.Cookies[SecureCookieName] : http.Request.Cookies[CookieName];
        if (string.IsNullOrEmpty(value) || value.Length > 64) return null;
        try
        {
            var token = Convert.FromBase64String(value.Replace('-', '+').Replace('_', '/') + new string('=', (4 - value.Length % 4) % 4));
            return token.Length == 32 ? SHA256.HashData(token) : null;
        }
        catch (FormatException)
        {
            return null;
        }
    }

    /// <summary>HMAC of the session's token hash under the administrator secret: only that secret reproduces it.</summary>
    private byte[]? AdminProof(byte[] tokenHash) => _adminKey is null ? null : HMACSHA256.HashData(_adminKey, tokenHash);

    private static string Base64Url(byte[] bytes) => Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');
}
