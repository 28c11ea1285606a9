using Jobplane.Api;
using Jobplane.Controller.Auth;
using Jobplane.Controller.Http;
using Jobplane.Store;

namespace Jobplane.Controller.Endpoints;

/// <summary>Tenant management: administrator only (SYSTEM_SECRET), never a tenant's own key.</summary>
public static class TenantEndpoints
{
    public static void MapTenantEndpoints(this IEndpointRouteBuilder app)
    {
        var admin = app.MapGroup("/tenants").RequirePrincipal(PrincipalKind.Administrator);

        admin.MapPost("", async (HttpRequest request, TenantStore tenants, CancellationToken ct) =>
        {
            var body = await JsonBody.ReadAsync(request, JobplaneJsonContext.Default.TenantRequest);
            if (body.Error is not null) return body.Error;
            var problem = Validate.Name(body.Value!.Name, "name") ?? ValidateLimits(body.Value);
            if (problem is not null) return ApiResults.BadRequest(problem);
            try
            {
                var created = await tenants.CreateAsync(body.Value with { Name = body.Value.Name!.Trim() }, ct);
                return Results.Json(created, JobplaneJsonContext.Default.CreateTenantResponse, statusCode: 201);
            }
            catch (StoreConflictException e)
            {
                return ApiResults.Conflict(e.Message);
            }
        });

        admin.MapPatch("/{id}", async (string id, HttpRequest request, TenantStore tenants, CancellationToken ct) =>
        {
            if (!Guid.TryParse(id, out var tenantId)) return ApiResults.NotFound("tenant");
            var body = await JsonBody.ReadAsync(request, JobplaneJsonContext.Default.TenantRequest);
            if (body.Error is not null) return body.Error;
            var problem = (body.Value!.Name is null ? null : Validate.Name(body.Value.Name, "name")) ?? ValidateLimits(body.Value);
            if (problem is not null) return ApiResults.BadRequest(problem);
            try
            {
                return await tenants.UpdateAsync(tenantId, body.Value, ct) ? Results.NoContent() : ApiResults.NotFound("tenant");
            }
            catch (StoreConflictException e)
            {
                return ApiResults.Conflict(e.Message);
            }
        });
    }

    private static string? ValidateLimits(TenantRequest r)
    {
        if (r.RateLimit is { } rate && (rate <= 0 || rate > 1_000_000 || double.IsNaN(rate)))
            return $"rate_limit must be a positive number of requests per second up to 1000000 (got {rate})";
        return Validate.Range(r.RateLimitBurst, "rate_limit_burst", 1, 1_000_000)
            ?? Validate.Range(r.MaxConcurrentExecutions, "max_concurrent_executions", 0, 1_000_000);
    }
}
