using System.Globalization;
using Jobplane.Api;
using Jobplane.Worker.Runtimes.Docker;
using k8s;

namespace Jobplane.Worker.Runtimes.Kubernetes;

/// <summary>The memory and CPU one pod's job container gets (requests equal limits).</summary>
public sealed record PodLimits
{
    public required long MemoryBytes { get; init; }
    /// <summary>CPU time, in CPUs (0.5 is half of one CPU); Kubernetes counts it in thousandths.</summary>
    public required double Cpus { get; init; }
}

/// <summary>
/// Settings of the kubernetes runtime, from the KUBERNETES_* variables. Every default isolates the
/// same way the docker runtime's do: a numeric non-root user, no network, bounded memory, CPU and
/// scratch space. The operator loosens them; a job may ask for more only up to the maximums
/// (<see cref="ResolveLimits"/>), and for root or network only where the operator allows them.
/// </summary>
public sealed record KubernetesRuntimeOptions
{
    public const string RuntimeName = "kubernetes";
    /// <summary>Where the attempt's output folder (an emptyDir) appears in the job's container.</summary>
    public const string OutputMountPath = "/jobplane/out";
    /// <summary>The result file the result container reads: result.json in the output folder, as for the other runtimes.</summary>
    public const string ResultPath = OutputMountPath + "/" + ResultFile.FileName;
    public const string DefaultResultImage = "jobplane:dev";
    /// <summary>The environment a pod gets inside a cluster; with it and no KUBECONFIG, the service account's config is used.</summary>
    public const string InClusterHostVariable = "KUBERNETES_SERVICE_HOST";
    public const string InClusterPortVariable = "KUBERNETES_SERVICE_PORT";

    /// <summary>This worker's identity; every Job it creates carries it as a label, so it must be a valid label value.</summary>
    public required string WorkerId { get; init; }
    /// <summary>
    /// The worker's work root: the kubernetes runtime keeps nothing there of its own, but the shared
    /// attempt bookkeeping (an empty folder per attempt) lives below it as on every runtime.
    /// </summary>
    public string WorkRoot { get; init; } = Path.GetTempPath();
    /// <summary>Longest log line delivered in one piece; longer lines arrive in pieces of this size.</summary>
    public int MaxLineChars { get; init; } = 64 * 1024;
    /// <summary>
    /// Follow stdout and stderr as two streams (the pods/log `stream` parameter, which needs the
    /// cluster's PodLogsQuerySplitStreams feature, alpha in Kubernetes 1.32). Off: the kubelet's one
    /// merged log, every line reported as stdout.
    /// </summary>
    public bool SplitLogStreams { get; init; }
    /// <summary>The one namespace the worker creates Jobs in; its Role grants nothing elsewhere.</summary>
    public required string Namespace { get; init; }
    /// <summary>Time between SIGTERM and SIGKILL when a job is timed out or stopped (the pod's termination grace).</summary>
    public TimeSpan KillGrace { get; init; } = TimeSpan.FromSeconds(10);
    /// <summary>A kubeconfig file; null inside a cluster, where the pod's own service account config is used.</summary>
    public string? KubeConfig { get; init; }
    /// <summary>The kubeconfig context to use; null: its current context.</summary>
    public string? Context { get; init; }
    /// <summary>The jobplane image whose `jobplane-worker read-result` checks and reports each attempt's result.</summary>
    public string ResultImage { get; init; } = DefaultResultImage;
    /// <summary>
    /// How long a pod may stay pending (unschedulable, pulling its image) before the attempt fails:
    /// the job's own timeout starts only when its container starts, like the docker runtime's pull.
    /// </summary>
    public TimeSpan PendingTimeout { get; init; } = TimeSpan.FromMinutes(5);
    /// <summary>What a job gets when it asks for nothing; the docker runtime's defaults.</summary>
    public PodLimits DefaultLimits { get; init; } = new() { MemoryBytes = 512L << 20, Cpus = 1 };
    /// <summary>The most a job may ask for.</summary>
    public PodLimits MaxLimits { get; init; } = new() { MemoryBytes = 512L << 20, Cpus = 1 };
    /// <summary>sizeLimit of the emptyDir at /tmp (the root filesystem is read-only).</summary>
    public long TmpBytes { get; init; } = 64L << 20;
    /// <summary>sizeLimit of the emptyDir at <see cref="OutputMountPath"/>, where result.json is written.</summary>
    public long OutputBytes { get; init; } = 64L << 20;
    /// <summary>Numeric uid and gid the job runs as; numeric so that no image's /etc/passwd can map it to root.</summary>
    public long Uid { get; init; } = 65534;
    public long Gid { get; init; } = 65534;
    /// <summary>Whether a job that asks to run as root does (otherwise its attempt fails without retry).</summary>
    public bool AllowRoot { get; init; }
    /// <summary>
    /// Whether a job that asks for network gets it. A job without network is labelled so that the
    /// namespace's NetworkPolicy cuts it off; this setting only decides who may go without the label.
    /// </summary>
    public bool AllowNetwork { get; init; }
    /// <summary>How long a finished Job stays for inspection before Kubernetes deletes it (the worker deletes its own sooner).</summary>
    public TimeSpan TtlAfterFinished { get; init; } = TimeSpan.FromSeconds(300);

    /// <summary>True when the worker talks to the cluster it runs in, through its service account.</summary>
    public bool InCluster => KubeConfig is null;

    /// <summary>
    /// The limits for one job: its request where it made one, the operator's default otherwise.
    /// Returns why the request cannot be granted, or null. A process-count request is not enforced:
    /// Kubernetes bounds processes per pod only node-wide (the kubelet's podPidsLimit).
    /// </summary>
    public string? ResolveLimits(ResourceRequest? request, out PodLimits limits)
    {
        limits = new PodLimits
        {
            MemoryBytes = request?.MemoryBytes ?? DefaultLimits.MemoryBytes,
            Cpus = request?.Cpus ?? DefaultLimits.Cpus,
        };
        if (limits.MemoryBytes <= 0 || limits.MemoryBytes > MaxLimits.MemoryBytes)
            return $"memory request {ByteSize.Format(limits.MemoryBytes)} is not within this worker's maximum of {ByteSize.Format(MaxLimits.MemoryBytes)}";
        if (limits.Cpus <= 0 || limits.Cpus > MaxLimits.Cpus)
            return string.Create(CultureInfo.InvariantCulture, $"CPU request {limits.Cpus} is not within this worker's maximum of {MaxLimits.Cpus}");
        return null;
    }

    /// <summary>The uid and gid for one job; root only when it asks and the operator allows it. Returns why not, or null.</summary>
    public string? ResolveUser(bool asksRoot, out long uid, out long gid)
    {
        (uid, gid) = (Uid, Gid);
        if (!asksRoot) return null;
        if (!AllowRoot) return "the job asks to run as root, and this worker does not allow it (KUBERNETES_ALLOW_ROOT=false)";
        (uid, gid) = (0, 0);
        return null;
    }

    /// <summary>Why a job's network request cannot be granted, or null.</summary>
    public string? ResolveNetwork(bool asked) =>
        asked && !AllowNetwork ? "the job asks for network, and this worker allows none (KUBERNETES_ALLOW_NETWORK=false)" : null;

    /// <summary>What a kubernetes worker with these settings can grant.</summary>
    public WorkerCapabilities Capabilities => new()
    {
        RuntimeClasses = [RuntimeClasses.Container],
        Network = AllowNetwork,
        RunAsRoot = AllowRoot,
        MaxMemoryMib = (int)Math.Min(MaxLimits.MemoryBytes >> 20, 1024 * 1024),
        MaxCpus = MaxLimits.Cpus,
    };

    /// <summary>The API client's configuration: the kubeconfig (and context) when given, the pod's service account otherwise.</summary>
    public KubernetesClientConfiguration ClientConfiguration() => KubeConfig is null
        ? KubernetesClientConfiguration.InClusterConfig()
        : KubernetesClientConfiguration.BuildConfigFromConfigFile(KubeConfig, currentContext: Context);

    /// <summary>Why these settings cannot work, or null. Checked at start-up and by the runtime itself.</summary>
    public string? Validate()
    {
        if (!IsLabelValue(WorkerId))
            return $"WORKER_ID must be a Kubernetes label value with RUNTIME=kubernetes: at most 63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit (got '{WorkerId}')";
        if (!IsDnsLabel(Namespace))
            return $"KUBERNETES_NAMESPACE must be a namespace name: at most 63 lowercase letters, digits or '-', starting and ending with a letter or digit (got '{Namespace}')";
        if (Context is not null && KubeConfig is null)
            return "KUBERNETES_CONTEXT names a context of a kubeconfig; set KUBECONFIG too";
        if (string.IsNullOrWhiteSpace(ResultImage) || ResultImage.Any(char.IsWhiteSpace))
            return $"KUBERNETES_RESULT_IMAGE must be an image reference such as {DefaultResultImage} (got '{ResultImage}')";
        if ((Uid == 0 || Gid == 0) && !AllowRoot)
            return $"KUBERNETES_USER '{Uid}:{Gid}' runs jobs as root; set KUBERNETES_ALLOW_ROOT=true to allow it";
        if (DefaultLimits.MemoryBytes < 6L << 20) return "KUBERNETES_MEMORY_LIMIT must be at least 6 MiB";
        if (DefaultLimits.Cpus < 0.001) return "KUBERNETES_CPU_LIMIT must be at least 0.001 (one millicpu)";
        if (MaxLimits.MemoryBytes < DefaultLimits.MemoryBytes)
            return "KUBERNETES_MAX_MEMORY must not be below KUBERNETES_MEMORY_LIMIT";
        if (MaxLimits.Cpus < DefaultLimits.Cpus) return "KUBERNETES_MAX_CPUS must not be below KUBERNETES_CPU_LIMIT";
        if (TmpBytes <= 0) return "KUBERNETES_TMP_SIZE must be positive";
        // The result container reads at most 1 MiB; a smaller folder could not hold a full result.
        if (OutputBytes < Wire.MaxResultBytes) return "KUBERNETES_OUTPUT_SIZE must be at least 1 MiB (the largest result)";
        if (PendingTimeout <= TimeSpan.Zero) return "KUBERNETES_PENDING_TIMEOUT must be positive";
        // The Job's field is whole seconds in 32 bits.
        if (TtlAfterFinished < TimeSpan.Zero || TtlAfterFinished.TotalSeconds > int.MaxValue)
            return "KUBERNETES_TTL_AFTER_FINISHED must be between 0 and 68 years";
        return null;
    }

    /// <summary>Reads the KUBERNETES_* settings (and KUBECONFIG), reporting every bad one to <paramref name="read"/>.</summary>
    public static KubernetesRuntimeOptions FromSettings(SettingReader read, string workRoot, string workerId, TimeSpan killGrace)
    {
        ArgumentNullException.ThrowIfNull(read);
        var errorsBefore = read.Errors.Count;

        var ns = read.String("KUBERNETES_NAMESPACE");
        if (ns is null) read.Error("KUBERNETES_NAMESPACE is required with RUNTIME=kubernetes: the namespace the worker creates Jobs in");

        var kubeConfig = read.String("KUBECONFIG");
        if (kubeConfig is not null && !File.Exists(kubeConfig))
            read.Error($"KUBECONFIG names no file (got '{kubeConfig}')");
        else if (kubeConfig is null && (read.String(InClusterHostVariable) is null || read.String(InClusterPortVariable) is null))
            read.Error($"KUBECONFIG is required outside a cluster (neither it nor {InClusterHostVariable} and {InClusterPortVariable} are set)");

        var defaults = new KubernetesRuntimeOptions { WorkerId = workerId, Namespace = ns ?? "" };
        var uid = defaults.Uid;
        var gid = defaults.Gid;
        if (read.String("KUBERNETES_USER") is { } user && !DockerRuntimeOptions.TryParseUser(user, out uid, out gid))
        {
            read.Error($"KUBERNETES_USER must be a numeric uid:gid such as 65534:65534 (got '{user}')");
            (uid, gid) = (defaults.Uid, defaults.Gid);
        }

        var memory = Size(read, "KUBERNETES_MEMORY_LIMIT", defaults.DefaultLimits.MemoryBytes);
        var cpus = Cpus(read, "KUBERNETES_CPU_LIMIT", defaults.DefaultLimits.Cpus);
        var options = defaults with
        {
            KillGrace = killGrace,
            WorkRoot = workRoot,
            SplitLogStreams = Bool(read, "KUBERNETES_SPLIT_LOG_STREAMS", defaults.SplitLogStreams),
            KubeConfig = kubeConfig,
            Context = read.String("KUBERNETES_CONTEXT"),
            ResultImage = read.String("KUBERNETES_RESULT_IMAGE") ?? defaults.ResultImage,
            PendingTimeout = read.Duration("KUBERNETES_PENDING_TIMEOUT", defaults.PendingTimeout),
            DefaultLimits = new PodLimits { MemoryBytes = memory, Cpus = cpus },
            // A maximum left unset is the default: a job may then ask only for less.
            MaxLimits = new PodLimits
            {
                MemoryBytes = Size(read, "KUBERNETES_MAX_MEMORY", memory),
                Cpus = Cpus(read, "KUBERNETES_MAX_CPUS", cpus),
            },
            TmpBytes = Size(read, "KUBERNETES_TMP_SIZE", defaults.TmpBytes),
            OutputBytes = Size(read, "KUBERNETES_OUTPUT_SIZE", defaults.OutputBytes),
            Uid = uid,
            Gid = gid,
            AllowRoot = Bool(read, "KUBERNETES_ALLOW_ROOT", defaults.AllowRoot),
            AllowNetwork = Bool(read, "KUBERNETES_ALLOW_NETWORK", defaults.AllowNetwork),
            TtlAfterFinished = read.Duration("KUBERNETES_TTL_AFTER_FINISHED", defaults.TtlAfterFinished),
        };
        // Each value parsed: what remains is how they fit together.
        if (read.Errors.Count == errorsBefore && options.Validate() is { } problem) read.Error(problem);
        // A kubeconfig the client cannot use (no such context, a user without credentials) is a
        // setting error at start-up, not a crash when the runtime is first made.
        if (read.Errors.Count == errorsBefore && kubeConfig is not null)
        {
            try
            {
                options.ClientConfiguration();
            }
            catch (Exception e) when (e is k8s.Exceptions.KubeConfigException or IOException or FormatException or InvalidOperationException)
            {
                read.Error($"KUBECONFIG '{kubeConfig}'{(options.Context is null ? "" : $" (context '{options.Context}')")} cannot be used: {e.Message}");
            }
        }
        return options;
    }

    /// <summary>RFC 1123 label, as namespace names are.</summary>
    internal static bool IsDnsLabel(string s) =>
        s.Length is > 0 and <= 63 && (char.IsAsciiLetterLower(s[0]) || char.IsAsciiDigit(s[0])) &&
        (char.IsAsciiLetterLower(s[^1]) || char.IsAsciiDigit(s[^1])) &&
        s.All(c => char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c) || c == '-');

    /// <summary>A label value: empty, or at most 63 of [A-Za-z0-9-_.] with letters or digits at both ends.</summary>
    internal static bool IsLabelValue(string s) =>
        s.Length <= 63 &&
        (s.Length == 0 || (char.IsAsciiLetterOrDigit(s[0]) && char.IsAsciiLetterOrDigit(s[^1]))) &&
        s.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.');

    private static long Size(SettingReader read, string key, long fallback)
    {
        var s = read.String(key);
        if (s is null) return fallback;
        if (ByteSize.TryParse(s, out var bytes) && bytes > 0) return bytes;
        read.Error($"{key} must be a size such as 512m, 1g or 64MiB (got '{s}')");
        return fallback;
    }

    private static double Cpus(SettingReader read, string key, double fallback)
    {
        var s = read.String(key);
        if (s is null) return fallback;
        if (double.TryParse(s, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var cpus) && cpus is >= 0.001 and <= 1024)
            return cpus;
        read.Error($"{key} must be a number of CPUs between 0.001 and 1024, such as 0.5 or 2 (got '{s}')");
        return fallback;
    }

    private static bool Bool(SettingReader read, string key, bool fallback)
    {
        switch (read.String(key)?.ToLowerInvariant())
        {
            case null: return fallback;
            case "true" or "1" or "yes": return true;
            case "false" or "0" or "no": return false;
            case var other:
                read.Error($"{key} must be true or false (got '{other}')");
                return fallback;
        }
    }
}
