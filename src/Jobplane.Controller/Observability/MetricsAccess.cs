using System.Security.Cryptography;
using System.Text;
using Jobplane.Api;
using Jobplane.Controller.Auth;
using Jobplane.Controller.Http;

namespace Jobplane.Controller.Observability;

/// <summary>
/// Who may read /metrics. The metrics name every tenant (queue depth and dead letters per tenant), so
/// on the public API port they need a credential: the scrape token (METRICS_TOKEN), meant for
/// Prometheus so that it never holds the administrator's secret, or the administrator secret. The
/// optional metrics port (METRICS_PORT) serves them without one, for a private network only, and
/// serves nothing else. The port is told apart by the socket the request arrived on, never by the
/// Host header, which a client chooses.
/// </summary>
public static class MetricsAccess
{
    // Matched as routing matches them: without regard to case or a trailing slash.
    private static readonly HashSet<string> MetricsPortPaths = new(["/metrics", "/healthz", "/readyz"], StringComparer.OrdinalIgnoreCase);

    /// <summary>
    /// On the metrics port, every route but metrics and health is not there at all; on any other
    /// port, /metrics needs the scrape token or the administrator secret. A middleware rather than an
    /// endpoint filter: the scraping endpoint is a plain request delegate, which filters do not run for.
    /// </summary>
    public static IApplicationBuilder UseMetricsAccess(this IApplicationBuilder app, ControllerOptions options)
    {
        var accepted = new[] { options.MetricsToken, options.SystemSecret }
            .Where(s => s is not null).Select(s => SHA256.HashData(Encoding.UTF8.GetBytes(s!))).ToArray();
        return app.Use(async (http, next) =>
        {
            var path = (http.Request.Path.Value ?? "").TrimEnd('/');
            if (options.MetricsPort is { } port && http.Connection.LocalPort == port)
            {
                if (MetricsPortPaths.Contains(path)) await next(http);
                else await ApiResults.WriteErrorAsync(http, 404, ErrorCodes.NotFound, $"the metrics port serves only {string.Join(", ", MetricsPortPaths)}");
                return;
            }
            if (!path.Equals("/metrics", StringComparison.OrdinalIgnoreCase) || Presents(http, accepted))
            {
                await next(http);
                return;
            }
            http.Response.Headers.WWWAuthenticate = "Bearer";
            await ApiResults.WriteErrorAsync(http, 401, ErrorCodes.Unauthorized,
                "metrics need 'Authorization: Bearer <METRICS_TOKEN or the administrator secret>' on the API port, or the metrics port (METRICS_PORT)");
        });
    }

    private static bool Presents(HttpContext http, byte[][] accepted)
    {
        if (AuthFilter.PresentedToken(http) is not { } presented) return false;
        var hash = SHA256.HashData(Encoding.UTF8.GetBytes(presented));
        // Every candidate is compared, in constant time, whichever matches.
        var matched = false;
        foreach (var candidate in accepted) matched |= CryptographicOperations.FixedTimeEquals(hash, candidate);
        return matched;
    }
}
