using Jobplane.Api;
using Jobplane.Controller.Auth;
using Jobplane.Controller.Http;
using Jobplane.Store;

namespace Jobplane.Controller.Endpoints;

/// <summary>
/// A tenant managing its own API keys with one of them: create (the key is shown once), list
/// (prefix, name, created, last used; never a secret), revoke. Revoking takes effect at once on
/// every replica. The administrator has the same operations under /tenants/{id}/api-keys.
/// A tenant holds at most MAX_API_KEYS_PER_TENANT live keys; a key may expire; a key made with a
/// key is that key's child, and revoking a key revokes its children too, however deep.
/// </summary>
public static class ApiKeyEndpoints
{
    public static void MapApiKeyEndpoints(this IEndpointRouteBuilder app)
    {
        var keys = app.MapGroup("").RequirePrincipal(PrincipalKind.Tenant).WithTags("API keys");

        keys.MapPost(Routes.ApiKeys, CreateOwn)
                .Doc("createApiKey", "Create an API key for this tenant", "The key is shown once; name defaults to \"default\". Optional expires_at (RFC 3339) " +
                    "or expires_in (seconds); read_only: true makes a key that may only read. The new key is the calling key's child: " +
                    "revoking the caller revokes it too. " +
                    "409 too_many_api_keys when the tenant holds MAX_API_KEYS_PER_TENANT live keys.")
                .JsonRequest<CreateApiKeyRequest>(Limits.SmallBodyBytes, optional: true)
                .Returns<CreateApiKeyResponse>(201)
                .Errors(400, 404, 409);

        keys.MapGet(Routes.ApiKeys, ListOwn)
                .Doc("listApiKeys", "List this tenant's API keys", "Prefix, name, created, last used; never a secret. Oldest first; "
                    + "pass next_cursor as cursor for the next page, which is absent on the last page.")
                .Paged(DefaultPageSize, Limits.MaxPageSize, cursor: true)
                .Returns<ApiKeyList>();

        keys.MapDelete(Routes.ApiKey, RevokeOwn)
            .Doc("revokeApiKey", "Revoke one of this tenant's API keys", "Takes effect at once on every replica, for the key and every key made with it (however deep).")
            .Produces(204)
            .Errors(404);
    }

    private static Task<IResult> CreateOwn(HttpContext http, TenantStore tenants, ControllerOptions options, CancellationToken ct) =>
        CreateAsync(http.Request, tenants, options, http.TenantId(), http.Principal().Actor, ct, http.Principal().Key?.KeyId);

    private static Task<IResult> ListOwn(HttpContext http, TenantStore tenants, CancellationToken ct) => ListAsync(http.Request, tenants, http.TenantId(), ct);

    private static async Task<IResult> RevokeOwn(string id, HttpContext http, TenantStore tenants, CancellationToken ct)
    {
        if (!Guid.TryParse(id, out var keyId)) return ApiResults.NotFound("API key");
        return await tenants.RevokeKeyAsync(http.TenantId(), keyId, http.Principal().Actor, ct)
            ? Results.NoContent() : ApiResults.NotFound("API key");
    }

    /// <summary>Keys were listed whole before paging: a default page this large keeps that answer for nearly every tenant.</summary>
    public const int DefaultPageSize = 100;

    /// <summary>A page of one tenant's keys; the tenant comes from the caller's authentication (or the administrator's route), never from the cursor.</summary>
    internal static async Task<IResult> ListAsync(HttpRequest request, TenantStore tenants, Guid tenantId, CancellationToken ct)
    {
        if (!Validate.TryListPage(request, DefaultPageSize, Limits.MaxPageSize, PageCursor.Lists.ApiKeys, out var page, out var error)) return error!;
        var keys = await tenants.ListKeysPageAsync(tenantId, page, ct);
        var next = keys.More ? PageCursor.Encode(PageCursor.Lists.ApiKeys, new PagePosition(keys.Items[^1].CreatedAt, keys.Items[^1].Id)) : null;
        return Results.Json(new ApiKeyList(keys.Items.Map(WireMapping.ToWire)) { NextCursor = next }, JobplaneJsonContext.Default.ApiKeyList);
    }

    /// <summary>Longest expiry a key may be given: ten years.</summary>
    internal const long MaxExpiresInSeconds = 10L * 365 * 24 * 3600;

    /// <param name="parentKeyId">The key making this one (null: the administrator).</param>
    internal static async Task<IResult> CreateAsync(HttpRequest request, TenantStore tenants, ControllerOptions options, Guid tenantId,
        string actor, CancellationToken ct, Guid? parentKeyId = null)
    {
        var body = await JsonBody.ReadAsync(request, JobplaneJsonContext.Default.CreateApiKeyRequest, Limits.SmallBodyBytes, optional: true);
        if (body.Error is not null) return body.Error;
        var name = body.Value?.Name ?? "default";
        var problem = Validate.Name(name, "name");
        var expiresAt = body.Value?.ExpiresAt;
        var expiresIn = body.Value?.ExpiresIn;
        if (expiresAt is not null && expiresIn is not null) problem ??= "expires_at and expires_in: give at most one";
        if (expiresIn is { } seconds && (seconds < 1 || seconds > MaxExpiresInSeconds))
            problem ??= $"expires_in must be a number of seconds between 1 and {MaxExpiresInSeconds} (got {seconds})";
        if (problem is not null) return ApiResults.BadRequest(problem);
        var limit = options.TenantLimits.MaxApiKeysPerTenant;
        var outcome = await tenants.CreateKeyAsync(tenantId, new NewApiKey(name.Trim(), actor)
        {
            ParentKeyId = parentKeyId,
            ExpiresAt = expiresAt,
            ExpiresInSeconds = expiresIn,
            MaxLiveKeys = limit,
            ReadOnly = body.Value?.ReadOnly ?? false,
        }, ct);
        return outcome.Refusal switch
        {
            null => Results.Json(outcome.Key!.ToWire(), JobplaneJsonContext.Default.CreateApiKeyResponse, statusCode: 201),
            KeyRefusal.TooManyKeys => ApiResults.Error(409, ErrorCodes.TooManyApiKeys,
                $"this tenant already holds {outcome.LiveKeys} live API keys, the most allowed (MAX_API_KEYS_PER_TENANT={limit}); revoke one first"),
            KeyRefusal.ExpiryPassed => ApiResults.BadRequest($"expires_at must be in the future (got {expiresAt:O})"),
            KeyRefusal.ParentNotLive => AuthFilter.Unauthorized(request.HttpContext, PrincipalKind.Tenant, "revoked"),
            _ => ApiResults.NotFound("tenant"),
        };
    }
}
