using Jobplane.Api;
using Jobplane.Controller.Auth;
using Jobplane.Controller.Http;
using Jobplane.Store;
using Microsoft.OpenApi;

namespace Jobplane.Controller.Endpoints;

/// <summary>Worker credentials and the audit log: administrator only.</summary>
public static class AdminEndpoints
{
    public static void MapAdminEndpoints(this IEndpointRouteBuilder app)
    {
        var credentials = app.MapGroup("").RequirePrincipal(PrincipalKind.Administrator).WithTags("Worker credentials");

        credentials.MapPost(Routes.WorkerCredentials, CreateCredential)
            .Doc("createWorkerCredential", "Issue a worker credential", "The token (a worker's WORKER_TOKEN) is shown once; tenant_ids restricts which tenants' executions it may claim.")
            .JsonRequest<CreateWorkerCredentialRequest>(Limits.SmallBodyBytes)
            .Returns<CreateWorkerCredentialResponse>(201);

        credentials.MapGet(Routes.WorkerCredentials, ListCredentials)
            .Doc("listWorkerCredentials", "List worker credentials", "Never their secrets. Oldest first; pass next_cursor as cursor for the next page, which is absent on the last page.")
            .Paged(100, Limits.MaxPageSize, cursor: true)
            .Returns<WorkerCredentialList>();

        credentials.MapDelete(Routes.WorkerCredential, RevokeCredential)
            .Doc("revokeWorkerCredential", "Revoke a worker credential", "Takes effect at once on every replica.")
            .Produces(204)
            .Errors(404);

        var audit = app.MapGroup("").RequirePrincipal(PrincipalKind.Administrator).WithTags("Audit");

        audit.MapGet(Routes.Audit, ListAudit)
            .Doc("listAuditEntries", "Read the audit log", "Newest first; pass next_before_id as before_id for the next page.")
            .Paged(100, Limits.MaxPageSize, offset: false)
            .Query("tenant_id", JsonSchemaType.String, "only this tenant's entries")
            .Query("before_id", JsonSchemaType.Integer, "entries older than this id")
            .Returns<AuditPage>();
    }

    /// <summary>A credential for workers (their WORKER_TOKEN), shown once; optionally restricted to tenants.</summary>
    private static async Task<IResult> CreateCredential(HttpRequest request, WorkerCredentialStore store, TenantStore tenants, CancellationToken ct)
    {
        var body = await JsonBody.ReadAsync(request, JobplaneJsonContext.Default.CreateWorkerCredentialRequest, Limits.SmallBodyBytes);
        if (body.Error is not null) return body.Error;
        var (created, problem) = await CreateCredentialAsync(store, tenants, body.Value!, Actors.Administrator, ct);
        return problem is not null ? ApiResults.BadRequest(problem)
            : Results.Json(created!.ToWire(), JobplaneJsonContext.Default.CreateWorkerCredentialResponse, statusCode: 201);
    }

    /// <summary>
    /// Checks a credential request and issues it: the one set of rules of the API's route and the
    /// dashboard's form (a name; at most MaxCredentialTenants tenants, each of which exists). Either
    /// the problem (nothing was written) or the credential, whose token is shown once.
    /// </summary>
    internal static async Task<(CreatedWorkerCredential? Created, string? Problem)> CreateCredentialAsync(WorkerCredentialStore store, TenantStore tenants,
        CreateWorkerCredentialRequest r, string actor, CancellationToken ct)
    {
        var problem = Validate.Name(r.Name, "name");
        if (r.TenantIds is { Count: > Limits.MaxCredentialTenants }) problem ??= $"tenant_ids must have at most {Limits.MaxCredentialTenants} entries";
        if (problem is not null) return (null, problem);
        Guid[]? restricted = r.TenantIds is { Count: > 0 } t ? [.. t.Distinct()] : null;
        foreach (var id in restricted ?? [])
        {
            if (await tenants.GetAsync(id, ct) is null) return (null, $"tenant_ids: no tenant {id}");
        }
        return (await store.CreateAsync(r.Name!.Trim(), restricted, actor, ct), null);
    }

    private static async Task<IResult> ListCredentials(HttpRequest request, WorkerCredentialStore store, CancellationToken ct)
    {
        if (!Validate.TryListPage(request, 100, Limits.MaxPageSize, PageCursor.Lists.WorkerCredentials, out var page, out var error)) return error!;
        var list = await store.ListPageAsync(page, ct);
        var next = list.More ? PageCursor.Encode(PageCursor.Lists.WorkerCredentials, new PagePosition(list.Items[^1].CreatedAt, list.Items[^1].Id)) : null;
        return Results.Json(new WorkerCredentialList(list.Items.Map(WireMapping.ToWire)) { NextCursor = next }, JobplaneJsonContext.Default.WorkerCredentialList);
    }

    private static async Task<IResult> RevokeCredential(string id, WorkerCredentialStore store, CancellationToken ct)
    {
        if (!Guid.TryParse(id, out var credentialId)) return ApiResults.NotFound("worker credential");
        return await store.RevokeAsync(credentialId, Actors.Administrator, ct) ? Results.NoContent() : ApiResults.NotFound("worker credential");
    }

    /// <summary>Newest first; ?tenant_id= for one tenant's, ?before_id= for the next page.</summary>
    private static async Task<IResult> ListAudit(HttpRequest request, AuditLog log, CancellationToken ct)
    {
        if (!Validate.TryPage(request, 100, Limits.MaxPageSize, out var limit, out _, out var error)) return error!;
        Guid? tenantId = null;
        long? beforeId = null;
        var t = request.Query["tenant_id"].ToString();
        if (t.Length > 0)
        {
            if (!Guid.TryParse(t, out var parsed)) return ApiResults.BadRequest($"tenant_id must be a tenant id (got '{t}')");
            tenantId = parsed;
        }
        var b = request.Query["before_id"].ToString();
        if (b.Length > 0)
        {
            if (!long.TryParse(b, System.Globalization.NumberStyles.Integer, System.Globalization.CultureInfo.InvariantCulture, out var parsed) || parsed < 1) return ApiResults.BadRequest($"before_id must be a positive integer (got '{b}')");
            beforeId = parsed;
        }
        var page = await log.ListAsync(tenantId, beforeId, limit, ct);
        return Results.Json(page.ToWire(), JobplaneJsonContext.Default.AuditPage);
    }
}
