using Jobplane.Api;
using Jobplane.Controller.Endpoints;
using Jobplane.Controller.Http;
using Jobplane.Store;
using Jobplane.Store.Dashboard;
using Microsoft.AspNetCore.Mvc;

namespace Jobplane.Controller.Dashboard.Pages;

/// <summary>
/// Worker credentials: listed (never a secret; oldest first through worker_credentials_created_idx,
/// a page at a time), issued by the API's rules (<see cref="AdminEndpoints.CreateCredentialAsync"/>;
/// the token is shown once on the answer), and revoked (every replica refuses it from the next request).
/// </summary>
[AdministratorOnly]
public sealed class AdminCredentialsModel(WorkerCredentialStore credentials, TenantStore tenants, ActivityQueries tenantList, AdminQueries admin)
    : DashboardPage
{
    public const int PageSize = 100;
    /// <summary>Tenants the restriction list offers (by name); a larger platform restricts through the API.</summary>
    public const int TenantChoices = 1000;

    public IReadOnlyList<WorkerCredentialRecord> Credentials { get; private set; } = [];
    public string? NextCursor { get; private set; }
    public bool Paged { get; private set; }
    public IReadOnlyDictionary<Guid, string> TenantNames { get; private set; } = new Dictionary<Guid, string>();
    public IReadOnlyList<(Guid Id, string Name, bool Suspended)> Tenants { get; private set; } = [];
    public CreatedWorkerCredential? Created { get; private set; }
    public string NewName { get; private set; } = "";
    public IReadOnlySet<Guid> NewTenants { get; private set; } = new HashSet<Guid>();

    /// <summary>This answer is to a form (a problem then means nothing was created).</summary>
    public bool Posted => HttpMethods.IsPost(Request.Method);

    public Task OnGetAsync(string? cursor, CancellationToken ct) => LoadAsync(cursor, ct);

    public async Task<IActionResult> OnPostCreateAsync([FromForm] string? name, [FromForm(Name = "tenant")] string[]? tenant, CancellationToken ct)
    {
        NewName = name ?? "";
        var ids = new List<Guid>();
        foreach (var t in tenant ?? [])
        {
            if (!Guid.TryParse(t, out var id))
            {
                Problem = $"tenant_ids: '{(t.Length > 40 ? t[..40] : t)}' is not a tenant id";
                break;
            }
            ids.Add(id);
        }
        NewTenants = ids.ToHashSet();
        if (Problem is null)
        {
            (Created, Problem) = await AdminEndpoints.CreateCredentialAsync(credentials, tenants,
                new CreateWorkerCredentialRequest { Name = name, TenantIds = ids }, Viewer.Actor, ct);
        }
        if (Problem is not null) Response.StatusCode = 400;
        else
        {
            NewName = "";
            NewTenants = new HashSet<Guid>();
        }
        await LoadAsync(null, ct);
        return Page();
    }

    public async Task<IActionResult> OnPostRevokeAsync([FromForm] string? id, CancellationToken ct)
    {
        if (!Guid.TryParse(id, out var credentialId)) return NotFound();
        // The revocation and its audit records are one statement.
        return await credentials.RevokeAsync(credentialId, Viewer.Actor, ct) ? Done("/ui/admin/credentials", "revoked") : NotFound();
    }

    private async Task LoadAsync(string? cursor, CancellationToken ct)
    {
        PagePosition? after = null;
        if (!string.IsNullOrEmpty(cursor) && !PageCursor.TryDecode(cursor, PageCursor.Lists.WorkerCredentials, out after, out var problem))
            Problem ??= problem;
        Paged = after is not null;
        var page = await credentials.ListPageAsync(new PageRequest(PageSize, 0, after), ct);
        Credentials = page.Items;
        NextCursor = page.More ? PageCursor.Encode(PageCursor.Lists.WorkerCredentials, new PagePosition(page.Items[^1].CreatedAt, page.Items[^1].Id)) : null;
        TenantNames = await admin.TenantNamesAsync(Credentials.SelectMany(c => c.TenantIds ?? []).Concat(Created?.TenantIds ?? []), ct);
        Tenants = await tenantList.TenantsAsync(TenantChoices, ct);
    }

    public string Names(IReadOnlyList<Guid>? ids) =>
        ids is null ? "every tenant" : string.Join(", ", ids.Select(id => TenantNames.TryGetValue(id, out var n) ? n : $"(deleted {DashboardHtml.Short(id)})"));
}
