using System.Security.Cryptography;
using System.Text;

namespace Jobplane.Controller.Auth;

/// <summary>
/// What a tenant is told about the worker that ran an attempt: not its id, which is usually the
/// worker's host name and maps the platform's network, but a pseudonym that stays the same for the
/// same worker and tenant (so a tenant can still see that two attempts ran on one worker) and cannot
/// be linked across tenants or guessed back. Keyed with a secret, because host names are few and
/// easy to enumerate: an unkeyed hash of one could be reversed by trying them.
/// </summary>
public sealed class WorkerPseudonyms
{
    private readonly byte[] _key;

    public WorkerPseudonyms(ControllerOptions options)
    {
        // Every replica of one platform shares the administrator secret (or worker token), so every
        // replica gives the same pseudonym. Without either, a key of this process: still opaque.
        var secret = options.SystemSecret ?? options.WorkerToken;
        _key = secret is null
            ? RandomNumberGenerator.GetBytes(32)
            : HMACSHA256.HashData(Encoding.UTF8.GetBytes(secret), "jobplane worker pseudonym"u8);
    }

    public string For(Guid tenantId, string workerId)
    {
        var mac = HMACSHA256.HashData(_key, Encoding.UTF8.GetBytes($"{tenantId:N}/{workerId}"));
        return "worker-" + Convert.ToHexStringLower(mac.AsSpan(0, 8));
    }
}
