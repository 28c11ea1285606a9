using Jobplane.Testing;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace Jobplane.Controller.Tests;

/// <summary>
/// Every route the controller really serves, read from its endpoint data source, so that tests
/// that walk "every route" cannot miss one added later.
/// </summary>
internal static class RouteTable
{
    public sealed record Route(string Method, string Pattern, Endpoint Endpoint)
    {
        public string Key => $"{Method} {Pattern}";
        public override string ToString() => Key;
    }

    /// <summary>
    /// The API's routes: without the OpenAPI document, the catch-all 404 and the web dashboard (/ui:
    /// HTML pages behind a session cookie, with tests of their own under Dashboard/).
    /// </summary>
    public static IReadOnlyList<Route> ApiRoutes(ControllerHost host)
    {
        var routes = new List<Route>();
        foreach (var endpoint in host.Services.GetRequiredService<EndpointDataSource>().Endpoints.OfType<RouteEndpoint>())
        {
            var pattern = "/" + endpoint.RoutePattern.RawText!.Trim('/');
            if (pattern == "/openapi.json" || pattern.Contains("{*", StringComparison.Ordinal)) continue;
            if (pattern == "/ui" || pattern.StartsWith("/ui/", StringComparison.Ordinal)) continue;
            // Prometheus' scraping endpoint answers any method; it is read with GET.
            var methods = endpoint.Metadata.GetMetadata<IHttpMethodMetadata>()?.HttpMethods ?? ["GET"];
            routes.AddRange(methods.Select(m => new Route(m, pattern, endpoint)));
        }
        return [.. routes.OrderBy(r => r.Pattern, StringComparer.Ordinal).ThenBy(r => r.Method, StringComparer.Ordinal)];
    }
}
