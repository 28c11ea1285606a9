using Jobplane.Api;
using Jobplane.Controller.Http;

namespace Jobplane.Controller.Endpoints;

/// <summary>Every route the controller serves, by group; each group maps its routes to named handlers.</summary>
public static class JobplaneApi
{
    public static void MapJobplaneApi(this IEndpointRouteBuilder app)
    {
        app.MapOpenApi(Routes.OpenApi);
        app.MapHealthEndpoints();
        // The metrics name every tenant: a credential on the API port (see MetricsAccess).
        app.MapPrometheusScrapingEndpoint(Routes.Metrics);
        app.MapTenantEndpoints();
        app.MapJobEndpoints();
        Schedules.ScheduleEndpoints.MapScheduleEndpoints(app);
        Webhooks.WebhookEndpoints.MapWebhookEndpoints(app);
        app.MapExecutionEndpoints();
        app.MapWorkerEndpoints();
        app.MapApiKeyEndpoints();
        app.MapAdminEndpoints();
        app.MapFallback((HttpContext ctx) => ApiResults.Error(404, ErrorCodes.NotFound, $"no route {ctx.Request.Method} {ctx.Request.Path}"));
    }
}
