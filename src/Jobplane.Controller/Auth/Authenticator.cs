using System.Security.Cryptography;
using System.Text;
using Jobplane.Store;

namespace Jobplane.Controller.Auth;

/// <summary>
/// Resolves a bearer credential to a principal. The administrator secret and the worker token are
/// compared in constant time (over their SHA-256, so length leaks nothing either); tenant API keys
/// are looked up by their non-secret prefix and their hash compared in constant time.
/// A tenant key is never accepted as a worker or administrator credential, nor the reverse.
/// </summary>
public sealed class Authenticator(ControllerOptions options, TenantStore tenants)
{
    private readonly byte[]? _adminHash = HashOrNull(options.SystemSecret);
    private readonly byte[]? _workerHash = HashOrNull(options.WorkerToken);

    public async Task<Principal?> AuthenticateAsync(PrincipalKind required, string? presented, CancellationToken ct)
    {
        if (string.IsNullOrEmpty(presented)) return null;
        switch (required)
        {
            case PrincipalKind.Administrator:
                return SecretMatches(presented, _adminHash) ? new Principal(PrincipalKind.Administrator) : null;
            case PrincipalKind.Worker:
                return SecretMatches(presented, _workerHash) ? new Principal(PrincipalKind.Worker) : null;
            default:
                var tenant = await tenants.AuthenticateAsync(presented, ct);
                return tenant is { } id ? new Principal(PrincipalKind.Tenant, id) : null;
        }
    }

    private static bool SecretMatches(string presented, byte[]? expectedHash) =>
        expectedHash is not null &&
        CryptographicOperations.FixedTimeEquals(SHA256.HashData(Encoding.UTF8.GetBytes(presented)), expectedHash);

    private static byte[]? HashOrNull(string? secret) =>
        secret is null ? null : SHA256.HashData(Encoding.UTF8.GetBytes(secret));
}
