using Jobplane.Api;
using Jobplane.Controller.Dashboard;

namespace Jobplane.Controller.Http;

/// <summary>
/// Answers the framework gives without a handler (405, 413, an unmatched route) are JSON {error, code}
/// too; under the dashboard's /ui they are a page a browser shows.
/// </summary>
public static class StatusCodeResponses
{
    public static IApplicationBuilder UseStatusCodeResponses(this IApplicationBuilder app) =>
        app.UseStatusCodePages(ctx => IsDashboardPage(ctx.HttpContext.Request.Path)
            ? DashboardStatusPage.WriteAsync(ctx.HttpContext)
            : WriteJsonAsync(ctx.HttpContext));

    private static bool IsDashboardPage(PathString path) => path.StartsWithSegments("/ui") && !path.StartsWithSegments("/ui/assets");

    private static Task WriteJsonAsync(HttpContext http) => http.Response.StatusCode switch
    {
        405 => ApiResults.WriteErrorAsync(http, 405, "method_not_allowed", $"method {http.Request.Method} is not allowed on {http.Request.Path}"),
        413 => ApiResults.WriteErrorAsync(http, 413, ErrorCodes.PayloadTooLarge, "request body too large"),
        var s => ApiResults.WriteErrorAsync(http, s, s == 404 ? ErrorCodes.NotFound : "error", s == 404 ? "not found" : "request failed"),
    };
}
