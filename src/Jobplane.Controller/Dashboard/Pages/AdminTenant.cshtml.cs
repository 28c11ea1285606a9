using System.Globalization;
using Jobplane.Api;
using Jobplane.Controller.Endpoints;
using Jobplane.Controller.Http;
using Jobplane.Store;
using Microsoft.AspNetCore.Mvc;

namespace Jobplane.Controller.Dashboard.Pages;

/// <summary>
/// One tenant: its settings and usage, the "edit limits" form (checked exactly as PATCH /tenants/{id}
/// checks it: <see cref="TenantEndpoints.Problem"/>; a refused form changes nothing), and its API keys:
/// listed (never a secret; oldest first through api_keys_tenant_idx, a page at a time), created by the
/// API's rules (<see cref="ApiKeyEndpoints.CreateKeyAsync"/>, shown once on the answer), and revoked
/// with every key made from them, which also ends the dashboard sessions signed in with them.
/// </summary>
[AdministratorOnly]
public sealed class AdminTenantModel(TenantStore tenants, ControllerOptions options) : DashboardPage
{
    public const int KeyPageSize = 100;

    public TenantRecord Tenant { get; private set; } = null!;
    public TenantForm Form { get; private set; } = new();
    public IReadOnlyList<ApiKeyRecord> Keys { get; private set; } = [];
    public string? NextKeys { get; private set; }
    public bool KeysPaged { get; private set; }
    /// <summary>The key just created: shown on this answer only.</summary>
    public CreatedApiKey? CreatedKey { get; private set; }
    /// <summary>Where a problem belongs: "limits" or "keys".</summary>
    public string? ProblemAt { get; private set; }
    public string NewKeyName { get; private set; } = "";
    public string NewKeyExpiry { get; private set; } = "";
    public bool NewKeyReadOnly { get; private set; }

    public int MaxKeys => options.TenantLimits.MaxApiKeysPerTenant;
    public string Home => $"/ui/admin/tenants/{Tenant.Id}";

    public async Task<IActionResult> OnGetAsync(string id, string? keys, CancellationToken ct)
    {
        if (!await LoadAsync(id, keys, ct)) return NotFound();
        Form = TenantForm.Of(Tenant);
        return Page();
    }

    public async Task<IActionResult> OnPostSaveAsync(string id, CancellationToken ct)
    {
        if (!await LoadAsync(id, null, ct)) return NotFound();
        Form = TenantForm.Of(Request.Form);
        if (Form.TryRead(out var request, out var problem)) problem = TenantEndpoints.Problem(request, update: true);
        if (problem is null)
        {
            try
            {
                // The update and its audit record (tenant.update, only when something changed) are one statement.
                if (!await tenants.UpdateAsync(Tenant.Id, TenantEndpoints.ForUpdate(request), ct, Viewer.Actor)) return NotFound();
                return Done(Home, "saved");
            }
            catch (StoreConflictException e)
            {
                problem = e.Message;
            }
        }
        return Refused(problem, "limits");
    }

    public async Task<IActionResult> OnPostCreateKeyAsync(string id, [FromForm] string? name, [FromForm(Name = "expires_at")] string? expiresAt,
        [FromForm(Name = "read_only")] string? readOnly, CancellationToken ct)
    {
        if (!await LoadAsync(id, null, ct)) return NotFound();
        Form = TenantForm.Of(Tenant);
        NewKeyName = name ?? "";
        NewKeyExpiry = expiresAt ?? "";
        NewKeyReadOnly = readOnly == "true";
        if (!TryExpiry(expiresAt, out var expiry)) return Refused("expires_at must be a date and time, in UTC (e.g. 2030-01-31T12:00)", "keys");
        var request = new CreateApiKeyRequest
        {
            Name = string.IsNullOrWhiteSpace(name) ? null : name,
            ExpiresAt = expiry,
            ReadOnly = NewKeyReadOnly,
        };
        var (outcome, problem) = await ApiKeyEndpoints.CreateKeyAsync(tenants, options, Tenant.Id, Viewer.Actor, request, parentKeyId: null, ct);
        if (problem is not null) return Refused(problem, "keys");
        if (outcome!.Refusal is KeyRefusal.TenantNotFound) return NotFound();
        if (outcome.Refusal is not null) return Refused(ApiKeyEndpoints.Refused(outcome, options, request), "keys");
        CreatedKey = outcome.Key;
        NewKeyName = "";
        NewKeyExpiry = "";
        NewKeyReadOnly = false;
        await LoadKeysAsync(null, ct);
        return Page();
    }

    public async Task<IActionResult> OnPostRevokeKeyAsync(string id, [FromForm] string? key, CancellationToken ct)
    {
        if (!Guid.TryParse(id, out var tenantId) || !Guid.TryParse(key, out var keyId)) return NotFound();
        // Every key revoked gets its audit record (api_key.revoke) in the same transaction.
        var cascaded = await tenants.RevokeKeyTreeAsync(tenantId, keyId, Viewer.Actor, ct);
        return cascaded is { } n ? Done($"/ui/admin/tenants/{tenantId}", "key_revoked", n) : NotFound();
    }

    private Microsoft.AspNetCore.Mvc.RazorPages.PageResult Refused(string? problem, string at)
    {
        Problem = problem;
        ProblemAt = at;
        Response.StatusCode = 400;
        return Page();
    }

    /// <summary>A datetime-local value (or an RFC 3339 one), read as UTC; blank: no expiry.</summary>
    private static bool TryExpiry(string? text, out DateTimeOffset? expiry)
    {
        expiry = null;
        if (string.IsNullOrWhiteSpace(text)) return true;
        if (!DateTimeOffset.TryParse(text.Trim(), CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var at))
            return false;
        expiry = at;
        return true;
    }

    private async Task<bool> LoadAsync(string id, string? keysCursor, CancellationToken ct)
    {
        if (!Guid.TryParse(id, out var tenantId) || await tenants.GetAsync(tenantId, ct) is not { } tenant) return false;
        Tenant = tenant;
        await LoadKeysAsync(keysCursor, ct);
        return true;
    }

    private async Task LoadKeysAsync(string? cursor, CancellationToken ct)
    {
        PagePosition? after = null;
        if (!string.IsNullOrEmpty(cursor) && !PageCursor.TryDecode(cursor, PageCursor.Lists.ApiKeys, out after, out var problem))
            Problem ??= problem;
        KeysPaged = after is not null;
        var page = await tenants.ListKeysPageAsync(Tenant.Id, new PageRequest(KeyPageSize, 0, after), ct);
        Keys = page.Items;
        NextKeys = page.More ? PageCursor.Encode(PageCursor.Lists.ApiKeys, new PagePosition(page.Items[^1].CreatedAt, page.Items[^1].Id)) : null;
    }
}
