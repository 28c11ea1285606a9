using Jobplane.Store;

namespace Jobplane.Controller.Dashboard;

/// <summary>
/// Who is looking at the dashboard: the administrator (every tenant) or one tenant through one of
/// its API keys. Every query a page makes is scoped by <see cref="Scope"/>: a tenant's own id, never
/// anything the request names; null only for the administrator.
/// </summary>
public sealed record Viewer
{
    public required bool IsAdministrator { get; init; }
    public Guid? TenantId { get; init; }
    public string? TenantName { get; init; }
    public bool TenantSuspended { get; init; }
    public Guid? KeyId { get; init; }
    public string? KeyPrefix { get; init; }
    /// <summary>Viewing only: no form that changes anything is shown, and every such POST is refused.</summary>
    public bool ReadOnly { get; init; }
    /// <summary>The synchronizer token every form of this session must carry.</summary>
    public required string CsrfToken { get; init; }
    public required DateTimeOffset ExpiresAt { get; init; }

    /// <summary>The tenant every query is limited to; null: the administrator, who sees all.</summary>
    public Guid? Scope => IsAdministrator ? null : TenantId;

    /// <summary>How the audit log names this viewer (the same names the API uses).</summary>
    public string Actor => IsAdministrator ? Actors.Administrator : Actors.TenantKey(KeyPrefix!);

    public bool CanAct => !ReadOnly;
}
