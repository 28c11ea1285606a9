using Jobplane.Api;
using Jobplane.Controller.Auth;
using Jobplane.Controller.Http;
using Jobplane.Store;

namespace Jobplane.Controller.Endpoints;

/// <summary>
/// A tenant managing its own API keys with one of them: create (the key is shown once), list
/// (prefix, name, created, last used; never a secret), revoke. Revoking takes effect at once on
/// every replica. The administrator has the same operations under /tenants/{id}/api-keys.
/// </summary>
public static class ApiKeyEndpoints
{
    public static void MapApiKeyEndpoints(this IEndpointRouteBuilder app)
    {
        var keys = app.MapGroup("/api-keys").RequirePrincipal(PrincipalKind.Tenant).WithTags("API keys");

        keys.MapPost("", (HttpContext http, TenantStore tenants, CancellationToken ct) =>
            CreateAsync(http.Request, tenants, http.TenantId(), http.Principal().Actor, ct))
                .Doc("Create an API key for this tenant", "The key is shown once; name defaults to \"default\".")
                .JsonRequest<CreateApiKeyRequest>(Limits.SmallBodyBytes, optional: true)
                .Returns<CreateApiKeyResponse>(201)
                .Errors(404);

        keys.MapGet("", (HttpContext http, TenantStore tenants, CancellationToken ct) => ListAsync(http.Request, tenants, http.TenantId(), ct))
                .Doc("List this tenant's API keys", "Prefix, name, created, last used; never a secret. Oldest first; "
                    + "pass next_cursor as cursor for the next page, which is absent on the last page.")
                .Paged(DefaultPageSize, Limits.MaxPageSize, cursor: true)
                .Returns<ApiKeyList>();

        keys.MapDelete("/{id}", async (string id, HttpContext http, TenantStore tenants, CancellationToken ct) =>
        {
            if (!Guid.TryParse(id, out var keyId)) return ApiResults.NotFound("API key");
            return await tenants.RevokeKeyAsync(http.TenantId(), keyId, http.Principal().Actor, ct)
                ? Results.NoContent() : ApiResults.NotFound("API key");
        })
            .Doc("Revoke one of this tenant's API keys", "Takes effect at once on every replica.")
            .Produces(204)
            .Errors(404);
    }

    /// <summary>Keys were listed whole before paging: a default page this large keeps that answer for nearly every tenant.</summary>
    public const int DefaultPageSize = 100;

    /// <summary>A page of one tenant's keys; the tenant comes from the caller's authentication (or the administrator's route), never from the cursor.</summary>
    internal static async Task<IResult> ListAsync(HttpRequest request, TenantStore tenants, Guid tenantId, CancellationToken ct)
    {
        if (!Validate.TryListPage(request, DefaultPageSize, Limits.MaxPageSize, PageCursor.Lists.ApiKeys, out var page, out var error)) return error!;
        var keys = await tenants.ListKeysPageAsync(tenantId, page, ct);
        var next = keys.More ? PageCursor.Encode(PageCursor.Lists.ApiKeys, new PagePosition(keys.Items[^1].CreatedAt, keys.Items[^1].Id)) : null;
        return Results.Json(new ApiKeyList(keys.Items) { NextCursor = next }, JobplaneJsonContext.Default.ApiKeyList);
    }

    internal static async Task<IResult> CreateAsync(HttpRequest request, TenantStore tenants, Guid tenantId, string actor, CancellationToken ct)
    {
        var body = await JsonBody.ReadAsync(request, JobplaneJsonContext.Default.CreateApiKeyRequest, Limits.SmallBodyBytes, optional: true);
        if (body.Error is not null) return body.Error;
        var name = body.Value?.Name ?? "default";
        var problem = Validate.Name(name, "name");
        if (problem is not null) return ApiResults.BadRequest(problem);
        var created = await tenants.CreateKeyAsync(tenantId, name.Trim(), actor, ct);
        return created is null ? ApiResults.NotFound("tenant") : Results.Json(created, JobplaneJsonContext.Default.CreateApiKeyResponse, statusCode: 201);
    }
}
