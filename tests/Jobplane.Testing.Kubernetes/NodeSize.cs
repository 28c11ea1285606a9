namespace Jobplane.Testing.Kubernetes;

/// <summary>
/// What the fake's one node offers the scheduler: its allocatable memory in bytes and its CPUs. A
/// pod whose requests do not fit stays Pending, Unschedulable. Only the requests count, as with the
/// real scheduler; the containers' actual use on the Docker Engine is never measured against it.
/// </summary>
public sealed record NodeSize(long AllocatableMemoryBytes = NodeSize.DefaultMemoryBytes, decimal AllocatableCpus = NodeSize.DefaultCpus)
{
    /// <summary>16 GiB.</summary>
    public const long DefaultMemoryBytes = 16L * 1024 * 1024 * 1024;

    public const decimal DefaultCpus = 8;

    /// <summary>16 GiB and 8 CPUs, a common worker node.</summary>
    public static NodeSize Default { get; } = new();
}
