namespace Jobplane.Worker.Runtimes.Kubernetes;

/// <summary>
/// Every Kubernetes API call the kubernetes runtime makes, as RBAC rules: the least a worker's
/// service account may be granted, all of it within the one namespace its jobs run in.
/// </summary>
/// <remarks>
/// The Role in deploy/kubernetes (base/worker-kubernetes.yaml) must grant exactly these rules, no
/// more and no fewer: the manifest tests compare the rendered Role with this list. The runtime's
/// tests record the verbs the runtime actually uses against the test API server and compare them
/// with this list too, so a new call shows up here, then in the Role, or fails a test.
/// Nothing is cluster-scoped: no ClusterRole, no access to Secrets, ConfigMaps or other namespaces.
/// </remarks>
public static class KubernetesPermissions
{
    /// <summary>One RBAC rule: the API group ("" is the core group), a resource, and its verbs.</summary>
    public sealed record Rule(string ApiGroup, string Resource, IReadOnlyList<string> Verbs);

    /// <summary>The rules, one per resource, verbs in a fixed order.</summary>
    public static IReadOnlyList<Rule> Rules { get; } =
    [
        // One Job per attempt: created; read when a create finds it exists (adopted); listed by name
        // until its removal is done and by worker label at start-up (orphans); deleted with its pod
        // on timeout, stop and clean-up.
        new("batch", "jobs", ["create", "get", "list", "delete"]),
        // The Job's pod: listed and watched for its phase and container states (exit code,
        // OOMKilled, image pull errors, eviction); deleted at once when a kill cannot wait for the
        // grace period (a lost lease).
        new("", "pods", ["list", "watch", "delete"]),
        // The job's output (container `job`) and the result frame (container `result`).
        new("", "pods/log", ["get"]),
    ];
}
