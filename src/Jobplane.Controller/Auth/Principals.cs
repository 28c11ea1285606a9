namespace Jobplane.Controller.Auth;

/// <summary>The three kinds of caller. Each route accepts exactly one.</summary>
public enum PrincipalKind
{
    Administrator,
    Tenant,
    Worker,
}

/// <summary>Who made the request, once authenticated.</summary>
public sealed record Principal(PrincipalKind Kind, Guid TenantId = default);
