namespace Jobplane.Api;

/// <summary>Wire constants shared by the controller, the worker and jobctl.</summary>
public static class Wire
{
    public const int DefaultPort = 6161;
    public const string DefaultUrl = "http://localhost:6161";
    /// <summary>Maximum size of result.json a job may write back.</summary>
    public const int MaxResultBytes = 1024 * 1024;
    public const string IdempotencyKeyHeader = "Idempotency-Key";
    /// <summary>The next page's cursor of a list answered as a bare array (GET /executions/dlq); absent on the last page.</summary>
    public const string NextCursorHeader = "X-Next-Cursor";
    /// <summary>
    /// The product a worker names in its User-Agent (<c>jobplane-worker/&lt;version&gt;</c>) on every
    /// request; the controller records the version in its worker registry.
    /// </summary>
    public const string WorkerProduct = "jobplane-worker";
}

/// <summary>The runtimes a worker can have (RUNTIME) and a tenant can be allowed.</summary>
public static class Runtimes
{
    public static readonly IReadOnlyList<string> Known = ["exec", "docker", "kubernetes"];

    public static bool IsKnown(string name) => Known.Contains(name);
}

/// <summary>
/// Runtime classes: image exec runs on the host and only on the exec runtime; any other image is a
/// container image and runs only on a container runtime (docker, kubernetes), never on the host.
/// </summary>
public static class RuntimeClasses
{
    public const string Exec = "exec";
    public const string Container = "container";
    /// <summary>The image that selects the exec runtime.</summary>
    public const string ExecImage = "exec";
    public static readonly IReadOnlyList<string> Known = [Exec, Container];

    /// <summary>The class of a job's image.</summary>
    public static string OfImage(string image) => image == ExecImage ? Exec : Container;

    /// <summary>The class a known runtime runs.</summary>
    public static string OfRuntime(string runtime) => runtime == "exec" ? Exec : Container;
}
