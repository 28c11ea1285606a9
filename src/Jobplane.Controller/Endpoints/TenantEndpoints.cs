using System.Globalization;
using Jobplane.Api;
using Jobplane.Controller.Auth;
using Jobplane.Controller.Http;
using Jobplane.Store;

namespace Jobplane.Controller.Endpoints;

/// <summary>
/// Tenant administration: administrator only (SYSTEM_SECRET), never a tenant's own key. Every
/// change is written to the audit log in the same transaction.
/// </summary>
public static class TenantEndpoints
{
    public static void MapTenantEndpoints(this IEndpointRouteBuilder app)
    {
        var admin = app.MapGroup("").RequirePrincipal(PrincipalKind.Administrator).WithTags("Tenants");

        admin.MapPost(Routes.Tenants, CreateTenant)
            .Doc("createTenant", "Create a tenant", "Answers its first API key, shown once. log_max_bytes_per_execution (1024..2^40) and log_follow_max (1..100000), "
                + "when given, replace the operator's LOG_MAX_BYTES_PER_EXECUTION and LOG_FOLLOW_MAX_PER_TENANT for this tenant.")
            .JsonRequest<TenantRequest>(Limits.SmallBodyBytes)
            .Returns<CreateTenantResponse>(201)
            .Errors(409);

        admin.MapGet(Routes.Tenants, ListTenants)
            .Doc("listTenants", "List tenants", "By name. Pass next_cursor as cursor for the next page; it is absent on the last page.")
            .Paged(100, Limits.MaxPageSize, cursor: true)
            .Returns<TenantList>();

        admin.MapGet(Routes.Tenant, GetTenant)
            .Doc("getTenant", "Read a tenant")
            .Returns<TenantView>()
            .Errors(404);

        admin.MapPatch(Routes.Tenant, UpdateTenant)
            .Doc("updateTenant", "Change a tenant", "Every field is optional; rate_limit 0 removes the limit; retention_days 0 returns to the operator's retention; "
                + "log_max_bytes_per_execution (1024..2^40) and log_follow_max (1..100000) override LOG_MAX_BYTES_PER_EXECUTION and LOG_FOLLOW_MAX_PER_TENANT "
                + "for this tenant, 0 returns to them; max_fleet_share is above 0 and at most 1 (1: no fleet share cap). An update that changes nothing is not audited.")
            .JsonRequest<TenantRequest>(Limits.SmallBodyBytes)
            .Produces(204)
            .Errors(404, 409);

        // Suspended: the tenant's queued work stays queued and nothing of it starts; running work
        // finishes; its keys can still read, cancel and purge, but not submit.
        admin.MapPost(Routes.TenantSuspend, SuspendTenant)
            .Doc("suspendTenant", "Suspend a tenant", "Its queued work stays queued and nothing of it starts; its keys can still read and cancel.")
            .Returns<TenantView>()
            .Errors(404);
        admin.MapPost(Routes.TenantResume, ResumeTenant)
            .Doc("resumeTenant", "Resume a suspended tenant")
            .Returns<TenantView>()
            .Errors(404);

        admin.MapPost(Routes.TenantApiKeys, CreateTenantApiKey)
            .Doc("createTenantApiKey", "Create an API key for a tenant", "The key is shown once; the tenant's MAX_API_KEYS_PER_TENANT holds here too.")
            .JsonRequest<CreateApiKeyRequest>(Limits.SmallBodyBytes, optional: true)
            .Returns<CreateApiKeyResponse>(201)
            .Errors(400, 404, 409);

        admin.MapGet(Routes.TenantApiKeys, ListTenantApiKeys)
            .Doc("listTenantApiKeys", "List a tenant's API keys", "Oldest first. Pass next_cursor as cursor for the next page; it is absent on the last page.")
            .Paged(ApiKeyEndpoints.DefaultPageSize, Limits.MaxPageSize, cursor: true)
            .Returns<ApiKeyList>()
            .Errors(404);

        admin.MapDelete(Routes.TenantApiKey, RevokeTenantApiKey)
            .Doc("revokeTenantApiKey", "Revoke a tenant's API key")
            .Produces(204)
            .Errors(404);
    }

    private static async Task<IResult> CreateTenant(HttpRequest request, TenantStore tenants, ControllerOptions options, CancellationToken ct)
    {
        var body = await JsonBody.ReadAsync(request, JobplaneJsonContext.Default.TenantRequest, Limits.SmallBodyBytes);
        if (body.Error is not null) return body.Error;
        var problem = Problem(body.Value!, update: false);
        if (problem is not null) return ApiResults.BadRequest(problem);
        try
        {
            var created = await tenants.CreateAsync(ForCreate(body.Value!, options), ct);
            return Results.Json(created.ToWire(), JobplaneJsonContext.Default.CreateTenantResponse, statusCode: 201);
        }
        catch (StoreConflictException e)
        {
            return ApiResults.Conflict(e.Message);
        }
    }

    private static async Task<IResult> ListTenants(HttpRequest request, TenantStore tenants, CancellationToken ct)
    {
        if (!Validate.TryPage(request, 100, Limits.MaxPageSize, out var limit, out var offset, out var error)) return error!;
        if (!Validate.TryCursorText(request, offset, out var cursor, out error)) return error!;
        string? afterName = null;
        if (cursor is not null && !PageCursor.TryDecode(cursor, PageCursor.Lists.Tenants, out afterName, out var problem))
            return ApiResults.BadRequest(problem!);
        var page = await tenants.ListPageAsync(limit, offset, afterName, ct);
        var next = page.More ? PageCursor.Encode(PageCursor.Lists.Tenants, page.Items[^1].Name) : null;
        return Results.Json(new TenantList(page.Items.Map(WireMapping.ToWire), limit, offset) { NextCursor = next }, JobplaneJsonContext.Default.TenantList);
    }

    private static async Task<IResult> GetTenant(string id, TenantStore tenants, CancellationToken ct)
    {
        if (!Guid.TryParse(id, out var tenantId)) return ApiResults.NotFound("tenant");
        var tenant = await tenants.GetAsync(tenantId, ct);
        return tenant is null ? ApiResults.NotFound("tenant") : Results.Json(tenant.ToWire(), JobplaneJsonContext.Default.TenantView);
    }

    private static async Task<IResult> UpdateTenant(string id, HttpRequest request, TenantStore tenants, CancellationToken ct)
    {
        if (!Guid.TryParse(id, out var tenantId)) return ApiResults.NotFound("tenant");
        var body = await JsonBody.ReadAsync(request, JobplaneJsonContext.Default.TenantRequest, Limits.SmallBodyBytes);
        if (body.Error is not null) return body.Error;
        var problem = Problem(body.Value!, update: true);
        if (problem is not null) return ApiResults.BadRequest(problem);
        try
        {
            return await tenants.UpdateAsync(tenantId, ForUpdate(body.Value!), ct) ? Results.NoContent() : ApiResults.NotFound("tenant");
        }
        catch (StoreConflictException e)
        {
            return ApiResults.Conflict(e.Message);
        }
    }

    private static Task<IResult> SuspendTenant(string id, TenantStore tenants, CancellationToken ct) =>
        SetSuspendedAsync(id, true, tenants, ct);

    private static Task<IResult> ResumeTenant(string id, TenantStore tenants, CancellationToken ct) =>
        SetSuspendedAsync(id, false, tenants, ct);

    private static async Task<IResult> CreateTenantApiKey(string id, HttpRequest request, TenantStore tenants, ControllerOptions options, CancellationToken ct)
    {
        if (!Guid.TryParse(id, out var tenantId)) return ApiResults.NotFound("tenant");
        return await ApiKeyEndpoints.CreateAsync(request, tenants, options, tenantId, Actors.Administrator, ct);
    }

    private static async Task<IResult> ListTenantApiKeys(string id, HttpRequest request, TenantStore tenants, CancellationToken ct)
    {
        if (!Guid.TryParse(id, out var tenantId) || await tenants.GetAsync(tenantId, ct) is null) return ApiResults.NotFound("tenant");
        return await ApiKeyEndpoints.ListAsync(request, tenants, tenantId, ct);
    }

    private static async Task<IResult> RevokeTenantApiKey(string id, string keyId, TenantStore tenants, CancellationToken ct)
    {
        if (!Guid.TryParse(id, out var tenantId) || !Guid.TryParse(keyId, out var key)) return ApiResults.NotFound("API key");
        return await tenants.RevokeKeyAsync(tenantId, key, Actors.Administrator, ct) ? Results.NoContent() : ApiResults.NotFound("API key");
    }

    private static async Task<IResult> SetSuspendedAsync(string id, bool suspended, TenantStore tenants, CancellationToken ct)
    {
        if (!Guid.TryParse(id, out var tenantId)) return ApiResults.NotFound("tenant");
        var tenant = await tenants.SetSuspendedAsync(tenantId, suspended, ct);
        return tenant is null ? ApiResults.NotFound("tenant") : Results.Json(tenant.ToWire(), JobplaneJsonContext.Default.TenantView);
    }

    /// <summary>A hundred years: the bound of tenants.retention_days.</summary>
    private const int MaxRetentionDays = 36_500;

    /// <summary>
    /// What is wrong with a tenant request (the first problem, naming its field), or null: the one
    /// check of POST /tenants (<paramref name="update"/> false: name required) and PATCH /tenants/{id}
    /// (every field optional; 0 returns some to the operator's setting), and of the dashboard's forms.
    /// </summary>
    internal static string? Problem(TenantRequest r, bool update) =>
        (update && r.Name is null ? null : Validate.Name(r.Name, "name")) ?? ValidateLimits(r, update);

    /// <summary>
    /// The settings a valid creation request makes: without allowed_runtimes, the operator's default
    /// (TENANT_DEFAULT_RUNTIMES); [] still means any.
    /// </summary>
    internal static TenantSettings ForCreate(TenantRequest r, ControllerOptions options) =>
        r.ToSettings() with { Name = r.Name!.Trim(), AllowedRuntimes = r.AllowedRuntimes ?? options.TenantDefaultRuntimes };

    /// <summary>The settings a valid update request changes.</summary>
    internal static TenantSettings ForUpdate(TenantRequest r) => r.ToSettings() with { Name = r.Name?.Trim() };

    private static string? ValidateLimits(TenantRequest r, bool update)
    {
        // On update, rate_limit 0 removes the limit.
        if (r.RateLimit is { } rate && !(update && rate == 0) && (rate <= 0 || rate > 1_000_000 || double.IsNaN(rate)))
            return $"rate_limit must be a positive number of requests per second up to 1000000{(update ? ", or 0 to remove the limit" : "")} (got {rate})";
        // 0 is refused rather than read as "the operator's default": a tenant given no share at all
        // would never start anything while others wait, which is suspension's job.
        if (r.MaxFleetShare is { } share && !(share > 0 && share <= 1))
            return string.Create(CultureInfo.InvariantCulture,
                $"max_fleet_share must be a fraction of the fleet's slots above 0 and at most 1 (1: no cap) (got {share})");
        if (r.AllowedRuntimes is { } runtimes)
        {
            if (runtimes.Count > Runtimes.Known.Count * 4) return "allowed_runtimes has too many entries";
            foreach (var name in runtimes)
            {
                if (name is null || !Runtimes.IsKnown(name))
                    return $"allowed_runtimes entries must be one of {string.Join(", ", Runtimes.Known)} (got '{name}')";
            }
        }
        return Validate.Range(r.RateLimitBurst, "rate_limit_burst", 1, 1_000_000)
            ?? Validate.Range(r.MaxConcurrentExecutions, "max_concurrent_executions", 0, 1_000_000)
            ?? Validate.Range(r.Weight, "weight", 1, Limits.MaxWeight)
            // 0 (update only) returns the tenant to the operator's retention, log cap or follow cap.
            ?? Validate.Range(r.RetentionDays, "retention_days", update ? 0 : 1, MaxRetentionDays)
            ?? LogBytes(r.LogMaxBytesPerExecution, update)
            ?? Validate.Range(r.LogFollowMax, "log_follow_max", update ? 0 : 1, TenantLimitOptions.MaxLogFollow);
    }

    /// <summary>A tenant's own log cap: within the bounds of the operator's LOG_MAX_BYTES_PER_EXECUTION.</summary>
    private static string? LogBytes(long? bytes, bool update) =>
        bytes is { } b && !(update && b == 0) && (b < TenantLimitOptions.MinLogMaxBytes || b > TenantLimitOptions.MaxLogMaxBytes)
            ? $"log_max_bytes_per_execution must be a number of bytes between {TenantLimitOptions.MinLogMaxBytes} (1 KiB) and "
                + $"{TenantLimitOptions.MaxLogMaxBytes} (1 TiB){(update ? ", or 0 to return to the operator's LOG_MAX_BYTES_PER_EXECUTION" : "")} (got {b})"
            : null;
}
