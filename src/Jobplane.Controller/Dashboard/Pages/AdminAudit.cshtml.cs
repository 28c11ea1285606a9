using System.Globalization;
using Jobplane.Store;
using Jobplane.Store.Dashboard;

namespace Jobplane.Controller.Dashboard.Pages;

/// <summary>
/// The audit log, newest first, a page at a time by id (<see cref="AuditLog.ListAsync"/>: the primary
/// key backwards, or audit_log_tenant_idx for one tenant), optionally one tenant's.
/// </summary>
[AdministratorOnly]
public sealed class AdminAuditModel(AuditLog log, ActivityQueries tenantList, AdminQueries admin) : DashboardPage
{
    public const int PageSize = 100;
    /// <summary>Tenants the filter offers by name; any tenant's id still works in ?tenant=.</summary>
    public const int TenantChoices = 1000;

    public IReadOnlyList<AuditRecord> Entries { get; private set; } = [];
    public long? NextBefore { get; private set; }
    public long? Before { get; private set; }
    public Guid? TenantId { get; private set; }
    public IReadOnlyDictionary<Guid, string> TenantNames { get; private set; } = new Dictionary<Guid, string>();
    public IReadOnlyList<(Guid Id, string Name, bool Suspended)> Tenants { get; private set; } = [];

    public async Task OnGetAsync(string? tenant, string? before, CancellationToken ct)
    {
        if (!string.IsNullOrEmpty(tenant))
        {
            if (Guid.TryParse(tenant, out var id)) TenantId = id;
            else Problem = "The tenant filter is not a tenant id; showing every tenant's entries.";
        }
        if (!string.IsNullOrEmpty(before))
        {
            if (long.TryParse(before, NumberStyles.None, CultureInfo.InvariantCulture, out var b) && b > 0) Before = b;
            else Problem ??= "The page position is not valid; showing the newest entries.";
        }
        var page = await log.ListAsync(TenantId, Before, PageSize, ct);
        Entries = page.Entries;
        NextBefore = page.NextBeforeId;
        Tenants = await tenantList.TenantsAsync(TenantChoices, ct);
        TenantNames = await admin.TenantNamesAsync(Entries.Where(e => e.TenantId is not null).Select(e => e.TenantId!.Value)
            .Concat(TenantId is { } t ? [t] : []), ct);
    }

    public string Query(long? before) =>
        "/ui/admin/audit?" + string.Join("&", new[]
        {
            TenantId is { } t ? $"tenant={t}" : null,
            before is { } b ? $"before={b.ToString(CultureInfo.InvariantCulture)}" : null,
        }.Where(p => p is not null));

    public string TenantName(Guid? id) =>
        id is not { } t ? "—" : TenantNames.TryGetValue(t, out var n) ? n : $"(deleted {DashboardHtml.Short(t)})";
}
