using Jobplane.Api;

namespace Jobplane.Controller.Http;

/// <summary>Answers the framework gives without a handler (405, 413, an unmatched route) are JSON {error, code} too.</summary>
public static class StatusCodeResponses
{
    public static IApplicationBuilder UseStatusCodeResponses(this IApplicationBuilder app) =>
        app.UseStatusCodePages(ctx => ctx.HttpContext.Response.StatusCode switch
        {
            405 => ApiResults.WriteErrorAsync(ctx.HttpContext, 405, "method_not_allowed", $"method {ctx.HttpContext.Request.Method} is not allowed on {ctx.HttpContext.Request.Path}"),
            413 => ApiResults.WriteErrorAsync(ctx.HttpContext, 413, ErrorCodes.PayloadTooLarge, "request body too large"),
            var s => ApiResults.WriteErrorAsync(ctx.HttpContext, s, s == 404 ? ErrorCodes.NotFound : "error", s == 404 ? "not found" : "request failed"),
        });
}
