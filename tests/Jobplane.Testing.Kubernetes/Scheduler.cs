using k8s.Models;

namespace Jobplane.Testing.Kubernetes;

/// <summary>
/// The scheduler's resource fit for the fake's one node, and the defaulting of requests the real
/// server applies to a new pod before the scheduler sees it.
/// </summary>
internal static class Scheduler
{
    public const string NodeName = "fake-node";

    /// <summary>
    /// A container with a limit but no request for a resource requests its limit, as the real
    /// server defaults a pod (not a pod template): the pod object shows the request.
    /// </summary>
    public static void DefaultRequestsFromLimits(V1PodSpec spec)
    {
        foreach (var container in (spec.InitContainers ?? []).Concat(spec.Containers))
        {
            if (container.Resources?.Limits is not { Count: > 0 } limits) continue;
            container.Resources.Requests ??= new Dictionary<string, ResourceQuantity>();
            foreach (var (resource, limit) in limits)
                container.Resources.Requests.TryAdd(resource, limit);
        }
    }

    /// <summary>
    /// Null when the pod fits the node; else the scheduler's FailedScheduling message. The pod's
    /// request for a resource is the larger of its main containers' sum and its largest init
    /// container's (init containers run one at a time, before the main ones). Each pod is measured
    /// against the whole node: the requests of the other pods on it are not subtracted.
    /// </summary>
    public static string? Unschedulable(V1PodSpec spec, NodeSize node)
    {
        var reasons = new List<string>();
        // Sorted as the scheduler sorts its reasons.
        if (Request(spec, "cpu") > node.AllocatableCpus) reasons.Add("1 Insufficient cpu");
        if (Request(spec, "memory") > node.AllocatableMemoryBytes) reasons.Add("1 Insufficient memory");
        if (reasons.Count == 0) return null;
        return $"0/1 nodes are available: {string.Join(", ", reasons)}. "
            + "preemption: 0/1 nodes are available: 1 No preemption victims found for incoming pod.";
    }

    private static decimal Request(V1PodSpec spec, string resource)
    {
        static decimal Of(V1Container c, string resource) =>
            c.Resources?.Requests is { } requests && requests.TryGetValue(resource, out var quantity) ? quantity.ToDecimal() : 0;
        var main = spec.Containers.Sum(c => Of(c, resource));
        var init = (spec.InitContainers ?? []).Select(c => Of(c, resource)).DefaultIfEmpty(0).Max();
        return Math.Max(main, init);
    }
}
