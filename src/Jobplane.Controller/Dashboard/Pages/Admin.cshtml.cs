using Jobplane.Api;
using Jobplane.Controller.Endpoints;
using Jobplane.Controller.Http;
using Jobplane.Store;
using Microsoft.AspNetCore.Mvc;

namespace Jobplane.Controller.Dashboard.Pages;

/// <summary>
/// Administration: the tenants with their limits, state and usage now (by name, a page at a time,
/// through <see cref="TenantStore.ListPageAsync"/>: keyset on tenants_name_key, two index counts per
/// tenant), suspend and resume, and creating a tenant, whose first API key is shown once on the answer.
/// </summary>
[AdministratorOnly]
public sealed class AdminModel(TenantStore tenants, ControllerOptions options) : DashboardPage
{
    public const int PageSize = 50;

    public IReadOnlyList<TenantRecord> Tenants { get; private set; } = [];
    /// <summary>The cursor of the next page of tenants; null on the last.</summary>
    public string? NextCursor { get; private set; }
    public bool Paged { get; private set; }
    /// <summary>The tenant just created, with its first key: shown on this answer only.</summary>
    public CreatedTenant? Created { get; private set; }
    /// <summary>The name a refused creation asked for, to show again in the form.</summary>
    public string? NewName { get; private set; }

    public Task OnGetAsync(string? cursor, CancellationToken ct) => LoadAsync(cursor, ct);

    public async Task<IActionResult> OnPostCreateAsync([FromForm] string? name, CancellationToken ct)
    {
        var request = new TenantRequest { Name = name };
        Problem = TenantEndpoints.Problem(request, update: false);
        if (Problem is null)
        {
            try
            {
                Created = await tenants.CreateAsync(TenantEndpoints.ForCreate(request, options), ct, Viewer.Actor);
            }
            catch (StoreConflictException e)
            {
                Problem = e.Message;
            }
        }
        if (Problem is not null)
        {
            NewName = name;
            Response.StatusCode = 400;
        }
        await LoadAsync(null, ct);
        return Page();
    }

    public Task<IActionResult> OnPostSuspendAsync([FromForm] string? id, [FromForm(Name = "return")] string? returnTo, CancellationToken ct) =>
        SetSuspendedAsync(id, true, returnTo, ct);

    public Task<IActionResult> OnPostResumeAsync([FromForm] string? id, [FromForm(Name = "return")] string? returnTo, CancellationToken ct) =>
        SetSuspendedAsync(id, false, returnTo, ct);

    private async Task<IActionResult> SetSuspendedAsync(string? id, bool suspended, string? returnTo, CancellationToken ct)
    {
        if (!Guid.TryParse(id, out var tenantId)) return NotFound();
        // The store writes the change and its audit record (tenant.suspend / tenant.resume) together.
        var tenant = await tenants.SetSuspendedAsync(tenantId, suspended, ct, Viewer.Actor);
        if (tenant is null) return NotFound();
        return Done(SeeOther.Local(returnTo ?? "/ui/admin"), suspended ? "suspended" : "unsuspended");
    }

    private async Task LoadAsync(string? cursor, CancellationToken ct)
    {
        string? afterName = null;
        if (!string.IsNullOrEmpty(cursor) && !PageCursor.TryDecode(cursor, PageCursor.Lists.Tenants, out afterName, out var problem))
            Problem ??= problem;
        Paged = afterName is not null;
        var page = await tenants.ListPageAsync(PageSize, 0, afterName, ct);
        Tenants = page.Items;
        NextCursor = page.More ? PageCursor.Encode(PageCursor.Lists.Tenants, page.Items[^1].Name) : null;
    }
}
