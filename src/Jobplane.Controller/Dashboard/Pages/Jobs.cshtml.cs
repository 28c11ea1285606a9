using Jobplane.Controller.Http;
using Jobplane.Store;
using Jobplane.Store.Dashboard;

namespace Jobplane.Controller.Dashboard.Pages;

/// <summary>
/// The scope's job definitions, newest first (<see cref="JobQueries"/>), each with how its recent runs
/// went and its newest execution. The administrator sees every tenant's, or one tenant's.
/// </summary>
public sealed class JobsModel(JobQueries queries, ActivityQueries tenants, ControllerOptions options) : DashboardPage
{
    public const int PageSize = 50;

    public IReadOnlyList<JobSummary> Jobs { get; private set; } = [];
    /// <summary>The administrator's tenant filter (null: every tenant); always null for a tenant.</summary>
    public Guid? TenantFilter { get; private set; }
    public IReadOnlyList<(Guid Id, string Name, bool Suspended)> Tenants { get; private set; } = [];
    public string? NextUrl { get; private set; }
    public bool Continued { get; private set; }

    public async Task OnGetAsync(string? tenant, string? after, CancellationToken ct)
    {
        TenantFilter = TenantParameter(tenant);
        PagePosition? position = null;
        if (!string.IsNullOrEmpty(after))
        {
            if (PageCursor.TryDecode(after, PageCursor.Lists.Jobs, out position, out _)) Continued = true;
            else Problem = "That page link is not valid; showing the first page.";
        }
        var page = await queries.ListAsync(Viewer.Scope ?? TenantFilter, position, PageSize, options.ListCommandMaxChars, ct);
        Jobs = page.Items;
        if (page.More)
            NextUrl = ListUrl(TenantFilter, PageCursor.Encode(PageCursor.Lists.Jobs, new PagePosition(Jobs[^1].Job.CreatedAt, Jobs[^1].Job.Id)));
        if (Viewer.IsAdministrator) Tenants = await tenants.TenantsAsync(500, ct);
    }

    /// <summary>The administrator's ?tenant= (an id); a tenant's own scope is never widened by it.</summary>
    private Guid? TenantParameter(string? tenant)
    {
        if (!Viewer.IsAdministrator || string.IsNullOrEmpty(tenant)) return null;
        if (Guid.TryParse(tenant, out var id)) return id;
        Problem = "The tenant filter must be a tenant's id; showing every tenant.";
        return null;
    }

    public static string ListUrl(Guid? tenant, string? after = null)
    {
        var query = new List<string>();
        if (tenant is { } t) query.Add("tenant=" + t);
        if (after is not null) query.Add("after=" + Uri.EscapeDataString(after));
        return "/ui/jobs" + (query.Count > 0 ? "?" + string.Join("&", query) : "");
    }

    /// <summary>
    /// A command as one line of text: its arguments joined with spaces, an argument that is empty or
    /// holds a space or quote shown in double quotes (so the boundaries stay visible). Plain text:
    /// the page encodes it like any other.
    /// </summary>
    public static string CommandText(IReadOnlyList<string> command, bool truncated)
    {
        if (command.Count == 0) return "(the image's own command)";
        var parts = command.Select(a => a.Length == 0 || a.Any(c => char.IsWhiteSpace(c) || c is '"' or '\'' or '\\')
            ? "\"" + a.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal) + "\""
            : a);
        return string.Join(' ', parts) + (truncated ? " … (cut; the job's page shows it whole)" : "");
    }
}
