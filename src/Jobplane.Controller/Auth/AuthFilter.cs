using System.Globalization;
using Jobplane.Api;
using Jobplane.Controller.Http;
using Jobplane.Controller.RateLimiting;

namespace Jobplane.Controller.Auth;

/// <summary>
/// An endpoint filter that admits one kind of principal per route group and stores it for the
/// handler. Missing or wrong credentials are 401 with a JSON body; nothing else runs.
/// </summary>
public static class AuthFilter
{
    public static RouteGroupBuilder RequirePrincipal(this RouteGroupBuilder group, PrincipalKind kind)
    {
        OpenApiMetadata.DescribeAuthentication(group, kind);
        group.AddEndpointFilter(async (ctx, next) =>
        {
            var http = ctx.HttpContext;
            var presented = BearerToken(http.Request);
            if (kind == PrincipalKind.Administrator && presented is null)
                presented = NonEmpty(http.Request.Headers["X-System-Secret"].ToString());
            // An address that has failed too often is refused before any key is looked up, unless
            // it presents what is known good without the database: a key this replica verified
            // moments ago, or the administrator secret or shared worker token themselves.
            var throttle = http.RequestServices.GetRequiredService<AuthFailureThrottle>();
            var auth = http.RequestServices.GetRequiredService<Authenticator>();
            if (throttle.RetryAfter(http.Connection.RemoteIpAddress) is { } wait
                && !(presented is not null && (kind == PrincipalKind.Tenant
                    ? http.RequestServices.GetRequiredService<RecentKeys>().Knows(presented)
                    : auth.IsStaticSecret(kind, presented))))
            {
                var retry = Math.Max(1, (int)Math.Ceiling(wait.TotalSeconds));
                http.Response.Headers.RetryAfter = retry.ToString(CultureInfo.InvariantCulture);
                return ApiResults.Error(429, ErrorCodes.TooManyAuthFailures,
                    $"too many failed authentications from this address (AUTH_FAILURES_PER_MINUTE); retry after {retry} s");
            }
            // A replayable request (Idempotency-Key) may answer from what exists without inserting,
            // so only plain submissions leave the key check to their statement.
            var deferrable = http.GetEndpoint()?.Metadata.GetMetadata<KeyCheckedInTransaction>() is not null
                && !http.Request.Headers.ContainsKey(Wire.IdempotencyKeyHeader);
            var principal = await auth.AuthenticateAsync(kind, presented, http.RequestAborted, deferrable);
            if (principal is null)
            {
                // A missing credential is not a guess and cost nothing: only wrong ones count.
                if (presented is not null) throttle.Failed(http.Connection.RemoteIpAddress);
                return Unauthorized(http, kind, presented);
            }
            http.Items[typeof(Principal)] = principal;
            // A read-only key reads; every other method changes something, and is refused before it runs.
            if (principal.Key is { ReadOnly: true } && !HttpMethods.IsGet(http.Request.Method) && !HttpMethods.IsHead(http.Request.Method))
                return ApiResults.Error(403, ErrorCodes.ReadOnlyKey,
                    $"this API key is read-only: it may read, and {http.Request.Method} {http.Request.Path} changes something; use a key that is not read-only");
            if (principal.Key is { RateLimit: { } rate } key)
            {
                var burst = key.RateLimitBurst ?? Math.Max(1, (int)Math.Ceiling(rate));
                var limiter = http.RequestServices.GetRequiredService<TenantRateLimiter>();
                var decision = await limiter.AcquireAsync(principal.TenantId, rate, burst, http.RequestAborted);
                WriteRateLimitHeaders(http.Response, rate, burst, decision);
                if (!decision.Allowed)
                {
                    http.RequestServices.GetRequiredService<ControllerMetrics>().RateLimited(principal.TenantId);
                    var seconds = Math.Max(1, (int)Math.Ceiling(decision.RetryAfter.TotalSeconds));
                    http.Response.Headers.RetryAfter = seconds.ToString(CultureInfo.InvariantCulture);
                    return ApiResults.Error(429, ErrorCodes.RateLimited,
                        $"rate limit exceeded: this tenant may make {rate.ToString(CultureInfo.InvariantCulture)} requests per second " +
                        $"(bursts of {burst}); retry after {seconds} s");
                }
            }
            return await next(ctx);
        });
        return group;
    }

    /// <summary>401 with a body saying which credential the route needs.</summary>
    public static IResult Unauthorized(HttpContext http, PrincipalKind kind, string? presented)
    {
        var what = kind switch
        {
            PrincipalKind.Administrator => "the administrator secret (SYSTEM_SECRET)",
            PrincipalKind.Worker => "a worker credential",
            _ => "a tenant API key",
        };
        var message = presented is null
            ? $"missing credentials: send 'Authorization: Bearer <key>' with {what}"
            : $"invalid credentials: this route needs {what}";
        http.Response.Headers.WWWAuthenticate = "Bearer";
        return ApiResults.Error(401, ErrorCodes.Unauthorized, message);
    }

    /// <summary>The caller's bearer token, as presented.</summary>
    public static string? PresentedToken(HttpContext http) => BearerToken(http.Request);

    /// <summary>
    /// Marks a route whose statement verifies the caller's API key itself (it must pass
    /// <c>Principal().Key.KeyId</c> when <see cref="Principal.KeyCheckDeferred"/> is set).
    /// </summary>
    public static RouteHandlerBuilder KeyCheckedInTransaction(this RouteHandlerBuilder route) =>
        route.WithMetadata(Auth.KeyCheckedInTransaction.Instance);

    /// <summary>
    /// Routes that start work refuse a suspended tenant (403); reading, cancelling and managing keys
    /// still work, so a suspended tenant can see and wind down what it has.
    /// </summary>
    public static RouteHandlerBuilder RefusedWhenSuspended(this RouteHandlerBuilder route) =>
        route.AddEndpointFilter(async (ctx, next) =>
            ctx.HttpContext.Items[typeof(Principal)] is Principal { Key.Suspended: true } ? Suspended() : await next(ctx));

    public static IResult Suspended() => ApiResults.Error(403, ErrorCodes.TenantSuspended,
        "this tenant is suspended: nothing new can be submitted or run until an administrator resumes it");

    public static Principal Principal(this HttpContext http) =>
        http.Items[typeof(Principal)] as Principal ?? throw new InvalidOperationException("route is not behind authentication");

    // The IETF draft's fields (RateLimit-Policy, RateLimit) and the widely used earlier trio
    // (RateLimit-Limit/-Remaining/-Reset). Remaining is this replica's view of the shared bucket;
    // the 429 and its Retry-After are exact.
    private static void WriteRateLimitHeaders(HttpResponse response, double rate, int burst, RateDecision d)
    {
        var window = Math.Max(1, (int)Math.Ceiling(burst / rate));
        var reset = Math.Max(d.Allowed ? 0 : 1, (int)Math.Ceiling((d.Allowed ? d.Reset : d.RetryAfter).TotalSeconds));
        var h = response.Headers;
        h["RateLimit-Policy"] = $"\"tenant\";q={burst};w={window}";
        h["RateLimit"] = $"\"tenant\";r={d.Remaining};t={reset}";
        h["RateLimit-Limit"] = burst.ToString(CultureInfo.InvariantCulture);
        h["RateLimit-Remaining"] = d.Remaining.ToString(CultureInfo.InvariantCulture);
        h["RateLimit-Reset"] = reset.ToString(CultureInfo.InvariantCulture);
    }

    public static Guid TenantId(this HttpContext http) =>
        http.Items[typeof(Principal)] is Principal { Kind: PrincipalKind.Tenant } p
            ? p.TenantId
            : throw new InvalidOperationException("route is not behind tenant authentication");

    private static string? BearerToken(HttpRequest request)
    {
        var header = request.Headers.Authorization.ToString();
        const string prefix = "Bearer ";
        return header.StartsWith(prefix, StringComparison.OrdinalIgnoreCase) ? NonEmpty(header[prefix.Length..].Trim()) : null;
    }

    private static string? NonEmpty(string? s) => string.IsNullOrWhiteSpace(s) ? null : s;
}
