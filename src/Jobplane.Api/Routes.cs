namespace Jobplane.Api;

/// <summary>Wire constants shared by the controller, the worker and jobctl.</summary>
public static class Wire
{
    public const int DefaultPort = 6161;
    public const string DefaultUrl = "http://localhost:6161";
    /// <summary>Maximum size of result.json a job may write back.</summary>
    public const int MaxResultBytes = 1024 * 1024;
    public const string IdempotencyKeyHeader = "Idempotency-Key";
}

/// <summary>The runtimes a worker can have (RUNTIME) and a tenant can be allowed.</summary>
public static class Runtimes
{
    public static readonly IReadOnlyList<string> Known = ["exec", "docker", "kubernetes"];

    public static bool IsKnown(string name) => Known.Contains(name);
}
