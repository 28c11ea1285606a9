using Jobplane.Store;

namespace Jobplane.Controller.Auth;

/// <summary>The three kinds of caller. Each route accepts exactly one.</summary>
public enum PrincipalKind
{
    Administrator,
    Tenant,
    Worker,
}

/// <summary>Who made the request, once authenticated.</summary>
public sealed record Principal(PrincipalKind Kind, Guid TenantId = default)
{
    /// <summary>How the audit log names this caller.</summary>
    public string Actor { get; init; } = Actors.Administrator;
    /// <summary>For a tenant: the key used, and the tenant's limits and state.</summary>
    public TenantKey? Key { get; init; }
    /// <summary>
    /// The key was admitted on a recent verification (<see cref="RecentKeys"/>), not checked by this
    /// request: the route must pass <c>Key.KeyId</c> to its statement, which checks it.
    /// </summary>
    public bool KeyCheckDeferred { get; init; }
    /// <summary>For a worker: the tenants it may serve; null: all.</summary>
    public Guid[]? WorkerTenants { get; init; }
}
