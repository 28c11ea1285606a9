using System.Globalization;
using Docker.DotNet.Models;
using k8s.Models;

namespace Jobplane.Testing.Kubernetes;

/// <summary>
/// Turns one container of a pod spec into a Docker container the way a kubelet would run it:
/// command as entrypoint and args as cmd, the effective security context (container over pod),
/// memory and CPU limits, the pod's emptyDir volumes, and no network at all (there is no bridge
/// here, so every pod is as isolated as a pod under a deny-all network policy).
/// </summary>
internal static class PodContainers
{
    public const string ManagedLabel = "jobplane.managed";
    public const string InstanceLabel = "jobplane.fake-kubernetes";
    public const string PodLabel = "io.kubernetes.pod.name";
    public const string NamespaceLabel = "io.kubernetes.pod.namespace";
    public const string ContainerLabel = "io.kubernetes.container.name";

    /// <summary>The Docker volume that backs one emptyDir of one pod.</summary>
    public static string VolumeName(string instance, string ns, string pod, string volume) => $"k8s-{instance}-{ns}-{pod}-{volume}";

    public static Dictionary<string, string> Labels(string instance, string ns, string pod, string? container) =>
        new(StringComparer.Ordinal)
        {
            [ManagedLabel] = "true",
            [InstanceLabel] = instance,
            [PodLabel] = pod,
            [NamespaceLabel] = ns,
            [ContainerLabel] = container ?? "",
        };

    /// <summary>
    /// The container's creation parameters, or the CreateContainerConfigError message a kubelet
    /// would give (runAsNonRoot that cannot hold, an environment variable it cannot resolve).
    /// </summary>
    public static (CreateContainerParameters? Parameters, string? ConfigError) Build(
        string instance, string ns, string podName, V1PodSpec pod, V1Container container, string? imageUser, string? sharedPidOf = null)
    {
        var podSecurity = pod.SecurityContext;
        var security = container.SecurityContext;
        var uid = security?.RunAsUser ?? podSecurity?.RunAsUser;
        var gid = security?.RunAsGroup ?? podSecurity?.RunAsGroup;
        var nonRoot = security?.RunAsNonRoot ?? podSecurity?.RunAsNonRoot ?? false;
        if (nonRoot)
        {
            if (uid == 0) return (null, "container's runAsUser breaks non-root policy");
            if (uid is null)
            {
                var user = (imageUser ?? "").Split(':')[0];
                if (user.Length == 0 || user is "root" or "0") return (null, "container has runAsNonRoot and image will run as root");
                if (!long.TryParse(user, NumberStyles.None, CultureInfo.InvariantCulture, out _))
                    return (null, $"container has runAsNonRoot and image has non-numeric user ({user}), cannot verify user is non-root");
            }
        }

        var env = new List<string>
        {
            // A kubelet always gives these, whatever enableServiceLinks says.
            "KUBERNETES_SERVICE_HOST=10.96.0.1",
            "KUBERNETES_SERVICE_PORT=443",
            "KUBERNETES_SERVICE_PORT_HTTPS=443",
            "KUBERNETES_PORT=tcp://10.96.0.1:443",
        };
        foreach (var variable in container.Env ?? [])
        {
            if (variable.ValueFrom is not null) return (null, $"environment variable \"{variable.Name}\": valueFrom is not supported by this fake");
            env.Add($"{variable.Name}={variable.Value ?? ""}");
        }

        var host = new HostConfig
        {
            NetworkMode = "none",
            Privileged = security?.Privileged ?? false,
            ReadonlyRootfs = security?.ReadOnlyRootFilesystem ?? false,
            // The log is what pods/log serves, with its timestamps.
            LogConfig = new LogConfig { Type = "json-file" },
            RestartPolicy = new RestartPolicy { Name = RestartPolicyKind.No },
            AutoRemove = false,
            Mounts = [],
        };
        // shareProcessNamespace: every container joins the sandbox's process namespace, whose init reaps orphans.
        if (sharedPidOf is not null) host.PidMode = $"container:{sharedPidOf}";
        if (security?.Capabilities?.Drop is { } drop) host.CapDrop = [.. drop];
        if (security?.Capabilities?.Add is { } add) host.CapAdd = [.. add];
        if (security?.AllowPrivilegeEscalation == false) host.SecurityOpt = ["no-new-privileges"];
        if (podSecurity?.SupplementalGroups is { } groups) host.GroupAdd = [.. groups.Select(g => Convert.ToString(g, CultureInfo.InvariantCulture)!)];
        if (container.Resources?.Limits is { } limits)
        {
            if (limits.TryGetValue("memory", out var memory))
            {
                host.Memory = (long)memory.ToDecimal();
                // No swap: over the limit is an OOM kill, as on a node without swap.
                host.MemorySwap = host.Memory;
            }
            if (limits.TryGetValue("cpu", out var cpu)) host.NanoCPUs = (long)(cpu.ToDecimal() * 1_000_000_000m);
        }
        foreach (var mount in container.VolumeMounts ?? [])
        {
            var volume = pod.Volumes?.FirstOrDefault(v => v.Name == mount.Name);
            if (volume?.EmptyDir is null) return (null, $"volume \"{mount.Name}\": only emptyDir volumes are supported by this fake");
            host.Mounts.Add(new Mount
            {
                Type = "volume",
                Source = VolumeName(instance, ns, podName, mount.Name),
                Target = mount.MountPath,
                ReadOnly = mount.ReadOnlyProperty ?? false,
                VolumeOptions = new VolumeOptions { NoCopy = true },
            });
        }

        var parameters = new CreateContainerParameters
        {
            Name = $"k8s_{container.Name}_{podName}_{ns}_{instance}",
            Image = container.Image,
            Hostname = podName.Length > 63 ? podName[..63] : podName,
            Env = env,
            WorkingDir = container.WorkingDir,
            Labels = Labels(instance, ns, podName, container.Name),
            AttachStdin = false,
            OpenStdin = false,
            Tty = false,
            HostConfig = host,
        };
        // command replaces the image's ENTRYPOINT (and with it its CMD), args replaces its CMD.
        if (container.Command is { Count: > 0 } command) parameters.Entrypoint = [.. command];
        if (container.Args is { Count: > 0 } args) parameters.Cmd = [.. args];
        if (uid is not null) parameters.User = gid is null ? $"{uid}" : $"{uid}:{gid}";
        return (parameters, null);
    }
}
