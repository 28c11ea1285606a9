using Jobplane.Api;
using Jobplane.Controller.Http;

namespace Jobplane.Controller.Auth;

/// <summary>
/// An endpoint filter that admits one kind of principal per route group and stores it for the
/// handler. Missing or wrong credentials are 401 with a JSON body; nothing else runs.
/// </summary>
public static class AuthFilter
{
    public static RouteGroupBuilder RequirePrincipal(this RouteGroupBuilder group, PrincipalKind kind)
    {
        group.AddEndpointFilter(async (ctx, next) =>
        {
            var http = ctx.HttpContext;
            var presented = BearerToken(http.Request);
            if (kind == PrincipalKind.Administrator && presented is null)
                presented = NonEmpty(http.Request.Headers["X-System-Secret"].ToString());
            var auth = http.RequestServices.GetRequiredService<Authenticator>();
            var principal = await auth.AuthenticateAsync(kind, presented, http.RequestAborted);
            if (principal is null)
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
            http.Items[typeof(Principal)] = principal;
            return await next(ctx);
        });
        return group;
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
