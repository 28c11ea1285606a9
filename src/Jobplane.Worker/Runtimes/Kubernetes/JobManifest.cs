using System.Globalization;
using k8s.Models;

namespace Jobplane.Worker.Runtimes.Kubernetes;

/// <summary>
/// The batch/v1 Job one attempt runs as. A pure function of the attempt and the operator's
/// settings, so every field can be checked without a cluster. The pod has two containers sharing one
/// process namespace: the job's own container `job`, and `result` (jobplane's own image), which
/// waits until the job's processes are gone, checks result.json and prints it as one framed line
/// that the worker reads from its log (see <see cref="ResultReader"/> and <see cref="ResultFrame"/>).
/// Not an init container for the job: a failed init container ends the pod, and a job that exits
/// non-zero must still have its result.json judged, as on the other runtimes. No container gets a
/// credential, a host path, a capability or a writable root filesystem.
/// </summary>
public static class JobManifest
{
    public const string JobContainer = "job";
    public const string ResultContainer = "result";
    public const string TmpVolume = "tmp";
    public const string OutputVolume = "out";

    public const string ManagedByLabel = "app.kubernetes.io/managed-by";
    public const string ManagedByValue = "jobplane";
    public const string TenantLabel = "jobplane.dev/tenant";
    public const string JobLabel = "jobplane.dev/job";
    public const string ExecutionLabel = "jobplane.dev/execution";
    public const string AttemptLabel = "jobplane.dev/attempt";
    public const string WorkerLabel = "jobplane.dev/worker";
    /// <summary>"none" on jobs without network: the namespace's NetworkPolicy selects pods by it.</summary>
    public const string NetworkLabel = "jobplane.dev/network";
    public const string NoNetwork = "none";
    /// <summary>
    /// The attempt's lease token, so that the worker's next life can take the attempt over. Readable
    /// by whoever may read Jobs in the namespace (the worker, the cluster's administrators), never by
    /// the job's pod (it has no service-account token); useless without a worker credential.
    /// </summary>
    public const string LeaseAnnotation = "jobplane.dev/lease-token";

    /// <summary>Slack past the job's timeout, grace and pending time before Kubernetes itself ends the Job: a backstop for a lost worker.</summary>
    public static readonly TimeSpan DeadlineBackstop = TimeSpan.FromSeconds(30);
    /// <summary>
    /// The result container's fixed resources: it reads at most 1 MiB and prints it in base64. Requests
    /// equal limits, so the pod's quality of service follows the job's own container.
    /// </summary>
    public const string ResultMemory = "128Mi";
    public const string ResultCpu = "100m";

    /// <summary>`jp-{executionId:N}-{attempt}`: unique per attempt and at most 63 characters, as a label value must be.</summary>
    public static string NameOf(RunSpec spec)
    {
        ArgumentNullException.ThrowIfNull(spec);
        return string.Create(CultureInfo.InvariantCulture, $"jp-{spec.ExecutionId:N}-{spec.Attempt}");
    }

    /// <summary>
    /// The Job for one attempt, or why this worker cannot run it (a request above its maximums, root
    /// or network it does not allow): such an attempt fails without retry, as with the docker runtime.
    /// </summary>
    public static string? TryBuild(RunSpec spec, KubernetesRuntimeOptions options, out V1Job? job)
    {
        ArgumentNullException.ThrowIfNull(spec);
        ArgumentNullException.ThrowIfNull(options);
        job = null;
        if (options.ResolveLimits(spec.Resources, out var limits) is { } limitProblem) return limitProblem;
        if (options.ResolveUser(spec.RunAsRoot, out var uid, out var gid) is { } userProblem) return userProblem;
        if (options.ResolveNetwork(spec.Network) is { } networkProblem) return networkProblem;

        var labels = Labels(spec, options.WorkerId);
        var graceSeconds = (long)Math.Ceiling(options.KillGrace.TotalSeconds);
        job = new V1Job
        {
            ApiVersion = "batch/v1",
            Kind = "Job",
            Metadata = new V1ObjectMeta
            {
                Name = NameOf(spec),
                NamespaceProperty = options.Namespace,
                Labels = labels,
                Annotations = spec.LeaseToken is { } lease ? new Dictionary<string, string> { [LeaseAnnotation] = lease.ToString("D") } : null,
            },
            Spec = new V1JobSpec
            {
                // One pod per attempt: retrying is the controller's decision, never Kubernetes'.
                BackoffLimit = 0,
                ActiveDeadlineSeconds = Deadline(spec, options, graceSeconds),
                TtlSecondsAfterFinished = (int)Math.Ceiling(options.TtlAfterFinished.TotalSeconds),
                Template = new V1PodTemplateSpec
                {
                    Metadata = new V1ObjectMeta { Labels = new Dictionary<string, string>(labels, StringComparer.Ordinal) },
                    Spec = Pod(spec, options, limits, uid, gid, graceSeconds),
                },
            },
        };
        return null;
    }

    /// <summary>
    /// Seconds until Kubernetes ends the Job whatever the worker does: the pending allowance, the
    /// timeout, the kill grace and a backstop. The worker enforces the timeout itself from the moment
    /// the job's container starts; Kubernetes counts from the Job's start, which includes pending time.
    /// </summary>
    private static long Deadline(RunSpec spec, KubernetesRuntimeOptions options, long graceSeconds) =>
        (long)Math.Ceiling(options.PendingTimeout.TotalSeconds) + (long)Math.Ceiling(spec.Timeout.TotalSeconds) +
        graceSeconds + (long)DeadlineBackstop.TotalSeconds;

    private static Dictionary<string, string> Labels(RunSpec spec, string workerId)
    {
        var labels = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            [ManagedByLabel] = ManagedByValue,
            [JobLabel] = spec.JobId.ToString("D"),
            [ExecutionLabel] = spec.ExecutionId.ToString("D"),
            [AttemptLabel] = spec.Attempt.ToString(CultureInfo.InvariantCulture),
            [WorkerLabel] = workerId,
        };
        if (spec.TenantId is { } tenant) labels[TenantLabel] = tenant.ToString("D");
        if (!spec.Network) labels[NetworkLabel] = NoNetwork;
        return labels;
    }

    private static V1PodSpec Pod(RunSpec spec, KubernetesRuntimeOptions options, PodLimits limits, long uid, long gid, long graceSeconds)
    {
        var root = uid == 0;
        return new V1PodSpec
        {
            RestartPolicy = "Never",
            // No credential of any kind reaches a job: no service account token, no service addresses.
            AutomountServiceAccountToken = false,
            EnableServiceLinks = false,
            TerminationGracePeriodSeconds = graceSeconds,
            SecurityContext = new V1PodSecurityContext
            {
                RunAsNonRoot = !root,
                RunAsUser = uid,
                RunAsGroup = gid,
                // The emptyDirs belong to this group, so the job can write them and the result container (same user) read them.
                FsGroup = gid,
                SeccompProfile = new V1SeccompProfile { Type = "RuntimeDefault" },
            },
            // The result container tells the job's end by its processes; it sees them, and they it,
            // but neither holds anything the other could use: no credential, the same user.
            ShareProcessNamespace = true,
            // In this order: a kubelet starts a pod's containers one after another, so the job's
            // process exists before the result container first looks for it.
            Containers = [JobContainerOf(spec, options, limits), ResultContainerOf(options)],
            Volumes =
            [
                new V1Volume { Name = TmpVolume, EmptyDir = new V1EmptyDirVolumeSource { SizeLimit = new ResourceQuantity(Bytes(options.TmpBytes)) } },
                new V1Volume { Name = OutputVolume, EmptyDir = new V1EmptyDirVolumeSource { SizeLimit = new ResourceQuantity(Bytes(options.OutputBytes)) } },
            ],
        };
    }

    private static V1Container JobContainerOf(RunSpec spec, KubernetesRuntimeOptions options, PodLimits limits)
    {
        var resources = new Dictionary<string, ResourceQuantity>(StringComparer.Ordinal)
        {
            ["memory"] = new(Bytes(limits.MemoryBytes)),
            ["cpu"] = new(MilliCpus(limits.Cpus)),
        };
        return new V1Container
        {
            Name = JobContainer,
            Image = spec.Image,
            // The argument vector as given, never through a shell. Args, not command: like the docker
            // runtime's Cmd, it replaces the image's CMD and keeps its ENTRYPOINT. None: the image's own.
            Args = spec.Command is { Count: > 0 } command ? [.. command] : null,
            Env = Environment(spec),
            Resources = new V1ResourceRequirements
            {
                Requests = resources,
                Limits = new Dictionary<string, ResourceQuantity>(resources, StringComparer.Ordinal),
            },
            SecurityContext = Locked(),
            VolumeMounts =
            [
                new V1VolumeMount { Name = TmpVolume, MountPath = "/tmp" },
                new V1VolumeMount { Name = OutputVolume, MountPath = KubernetesRuntimeOptions.OutputMountPath },
            ],
        };
    }

    private static V1Container ResultContainerOf(KubernetesRuntimeOptions options)
    {
        var resources = new Dictionary<string, ResourceQuantity>(StringComparer.Ordinal)
        {
            ["memory"] = new(ResultMemory),
            ["cpu"] = new(ResultCpu),
        };
        return new V1Container
        {
            Name = ResultContainer,
            Image = options.ResultImage,
            ImagePullPolicy = "IfNotPresent",
            Command = ["jobplane-worker", ResultReader.Mode, ResultReader.AfterJobFlag, KubernetesRuntimeOptions.ResultPath],
            // The runtime's diagnostics would want a writable /tmp; the root filesystem is read-only.
            Env = [new V1EnvVar { Name = "DOTNET_EnableDiagnostics", Value = "0" }],
            Resources = new V1ResourceRequirements
            {
                Requests = resources,
                Limits = new Dictionary<string, ResourceQuantity>(resources, StringComparer.Ordinal),
            },
            SecurityContext = Locked(),
            VolumeMounts = [new V1VolumeMount { Name = OutputVolume, MountPath = KubernetesRuntimeOptions.OutputMountPath, ReadOnlyProperty = true }],
        };
    }

    /// <summary>What every container gets: no capability, no way to gain privileges, nothing writable but its volumes.</summary>
    private static V1SecurityContext Locked() => new()
    {
        AllowPrivilegeEscalation = false,
        Privileged = false,
        ReadOnlyRootFilesystem = true,
        Capabilities = new V1Capabilities { Drop = ["ALL"] },
    };

    /// <summary>
    /// The job's environment: the spec's extra variables (TRACEPARENT), then the same JOBPLANE_
    /// variables the other runtimes set, which a spec cannot override. Nothing of the worker's.
    /// </summary>
    private static List<V1EnvVar> Environment(RunSpec spec)
    {
        var environment = new Dictionary<string, string>(StringComparer.Ordinal);
        if (spec.ExtraEnvironment is not null)
        {
            foreach (var (name, value) in spec.ExtraEnvironment) environment[name] = value;
        }
        environment["JOBPLANE_EXECUTION_ID"] = spec.ExecutionId.ToString("D");
        environment["JOBPLANE_JOB_ID"] = spec.JobId.ToString("D");
        environment["JOBPLANE_ATTEMPT"] = spec.Attempt.ToString(CultureInfo.InvariantCulture);
        environment["JOBPLANE_OUTPUT_DIR"] = KubernetesRuntimeOptions.OutputMountPath;
        return [.. environment.Select(e => new V1EnvVar { Name = e.Key, Value = e.Value })];
    }

    private static string Bytes(long bytes) => bytes.ToString(CultureInfo.InvariantCulture);

    /// <summary>CPUs in thousandths, at least one: Kubernetes has no finer unit.</summary>
    private static string MilliCpus(double cpus) =>
        Math.Max(1, (long)Math.Round(cpus * 1000)).ToString(CultureInfo.InvariantCulture) + "m";
}
