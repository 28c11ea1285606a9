namespace Jobplane.Worker.Runtimes.Docker;

/// <summary>
/// Turns the engine's reason for a failed pull into one of a few fixed texts a tenant may read. The
/// engine's words relay the registry's answer and its own network errors verbatim ("dial tcp: lookup
/// registry.example on 10.0.0.53:53: no such host", a registry's "manifest unknown at /srv/..."):
/// hostnames, addresses, ports and paths of the worker's network that a tenant must not learn by
/// naming images. The full reason is logged for the operator.
/// </summary>
internal static class PullErrors
{
    public const string NotFound = "the registry has no such image or tag";
    public const string Unauthorized = "the registry refused access (the image may not exist, or it needs credentials this worker does not have)";
    public const string Unreachable = "the registry cannot be reached from this worker";
    public const string Other = "the pull failed (the worker's log has the engine's reason)";

    /// <summary>The fixed text for <paramref name="engineReason"/>.</summary>
    public static string Describe(string engineReason)
    {
        var reason = engineReason.ToLowerInvariant();
        // Access first: Docker Hub answers "pull access denied ..., repository does not exist or may
        // require 'docker login'" for both a missing and a private repository.
        if (ContainsAny(reason, "unauthorized", "authentication required", "access denied", "denied:", "forbidden", "no basic auth credentials"))
            return Unauthorized;
        if (ContainsAny(reason, "manifest unknown", "not found", "name unknown", "does not exist", "no matching manifest"))
            return NotFound;
        if (ContainsAny(reason, "dial tcp", "no such host", "connection refused", "i/o timeout", "network is unreachable",
                "no route to host", "connection reset", "tls handshake timeout", "server misbehaving", "timeout exceeded",
                "context deadline exceeded", "temporary failure in name resolution"))
            return Unreachable;
        return Other;
    }

    private static bool ContainsAny(string text, params string[] needles) =>
        needles.Any(n => text.Contains(n, StringComparison.Ordinal));
}
