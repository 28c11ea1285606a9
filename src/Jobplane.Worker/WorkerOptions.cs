using Jobplane.Api;
using Jobplane.Worker.Runtimes.Docker;

namespace Jobplane.Worker;

/// <summary>
/// The worker's settings, from environment variables, validated at start-up. The worker needs no
/// database: only the controller's URL and a worker credential.
/// </summary>
public sealed record WorkerOptions
{
    /// <summary>The usual Prometheus exporter port.</summary>
    public const int DefaultMetricsPort = 9464;

    public required Uri ControllerUrl { get; init; }
    public required string WorkerToken { get; init; }
    /// <summary>Stable across restarts, so a restarted worker can find what its previous life left behind.</summary>
    public required string WorkerId { get; init; }
    public int Concurrency { get; init; } = 4;
    /// <summary>Longest one dequeue long-poll waits for work (WORKER_POLL_INTERVAL).</summary>
    public TimeSpan PollWait { get; init; } = TimeSpan.FromSeconds(20);
    /// <summary>
    /// How often all leases are confirmed in one call. Short, because this is also how a cancel
    /// request reaches the job; cheap, because the controller rewrites a lease only past 1/3 of its life.
    /// </summary>
    public TimeSpan HeartbeatInterval { get; init; } = TimeSpan.FromSeconds(2);
    /// <summary>On SIGTERM, how long running jobs may take to finish before they are stopped and handed back.</summary>
    public TimeSpan DrainTimeout { get; init; } = TimeSpan.FromSeconds(30);
    /// <summary>Between the polite stop signal and the kill.</summary>
    public TimeSpan KillGrace { get; init; } = TimeSpan.FromSeconds(10);
    /// <summary>How long log lines may wait before they are shipped in one batch.</summary>
    public TimeSpan LogFlushInterval { get; init; } = TimeSpan.FromMilliseconds(200);
    public string Runtime { get; init; } = Runtimes.Exec.ExecRuntime.RuntimeName;
    public required string WorkRoot { get; init; }
    public IReadOnlyList<Guid>? TenantIds { get; init; }
    /// <summary>EXEC_JOB_UIDS: the users exec jobs run as, one per running attempt; null when jobs run as the worker's own user.</summary>
    public Runtimes.Exec.JobUserRange? ExecJobUsers { get; init; }
    /// <summary>EXEC_USER_LOCK_DIR: the lock files through which the host's workers share EXEC_JOB_UIDS.</summary>
    public string ExecUserLockDirectory { get; init; } = Runtimes.Exec.JobUserPool.DefaultLockDirectory;
    /// <summary>EXEC_MAX_PROCESSES: how many processes one exec job (its user) may run at once; a fork bomb stops there.</summary>
    public int ExecMaxProcesses { get; init; } = 1024;
    /// <summary>EXEC_WORKDIR_MAX_BYTES: the tmpfs bound on each exec attempt's folder (root workers); 0 for none.</summary>
    public long ExecWorkDirectoryMaxBytes { get; init; } = Runtimes.Exec.ExecRuntimeOptions.DefaultWorkDirectoryMaxBytes;
    /// <summary>EXEC_RUN_AS_WORKER_USER: the operator accepts exec jobs running as the (non-root) worker's own user.</summary>
    public bool ExecRunAsWorkerUser { get; init; }
    /// <summary>The DOCKER_* settings, read when RUNTIME is docker.</summary>
    public DockerRuntimeOptions? Docker { get; init; }
    /// <summary>The KUBERNETES_* settings (and KUBECONFIG), read when RUNTIME is kubernetes.</summary>
    public Runtimes.Kubernetes.KubernetesRuntimeOptions? Kubernetes { get; init; }
    /// <summary>Port of the Prometheus /metrics endpoint (WORKER_METRICS_PORT, default 9464); null when turned off (0).</summary>
    public int? MetricsPort { get; init; }
    /// <summary>LOG_FORMAT: json (default) or text.</summary>
    public string LogFormat { get; init; } = Jobplane.Observability.LogFormat.Json;

    public static WorkerOptions FromEnvironment(Func<string, string?> env)
    {
        var read = new SettingReader(env);
        var url = env("CONTROLLER_URL") is { Length: > 0 } u ? u : Wire.DefaultUrl;
        if (!Uri.TryCreate(url, UriKind.Absolute, out var controllerUrl) || controllerUrl.Scheme is not ("http" or "https"))
            read.Error($"CONTROLLER_URL must be an http(s) URL (got '{url}')");
        var token = env("WORKER_TOKEN");
        if (string.IsNullOrWhiteSpace(token)) read.Error("WORKER_TOKEN is required: the worker credential configured on the controller");

        var runtime = (env("RUNTIME") is { Length: > 0 } r ? r : Runtimes.Exec.ExecRuntime.RuntimeName).Trim().ToLowerInvariant();
        var workerId = env("WORKER_ID") is { Length: > 0 } id ? id.Trim() : Environment.MachineName;
        if (workerId.Length > 100 || workerId.Any(c => !(char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.')))
            read.Error($"WORKER_ID must be at most 100 characters of letters, digits, '-', '_' or '.' (got '{workerId}')");

        List<Guid>? tenants = null;
        if (env("WORKER_TENANTS") is { Length: > 0 } list)
        {
            tenants = [];
            foreach (var part in list.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            {
                if (Guid.TryParse(part, out var g)) tenants.Add(g);
                else read.Error($"WORKER_TENANTS must be a comma-separated list of tenant ids (bad entry '{part}')");
            }
        }

        var options = new WorkerOptions
        {
            ControllerUrl = controllerUrl ?? new Uri(Wire.DefaultUrl),
            WorkerToken = token ?? "",
            WorkerId = workerId,
            Concurrency = read.Int("WORKER_CONCURRENCY", 4, 1, 1000),
            PollWait = read.Duration("WORKER_POLL_INTERVAL", TimeSpan.FromSeconds(20)),
            HeartbeatInterval = read.Duration("WORKER_HEARTBEAT_INTERVAL", TimeSpan.FromSeconds(2)),
            DrainTimeout = read.Duration("WORKER_DRAIN_TIMEOUT", TimeSpan.FromSeconds(30)),
            KillGrace = read.Duration("WORKER_KILL_GRACE", TimeSpan.FromSeconds(10)),
            LogFlushInterval = read.Duration("WORKER_LOG_FLUSH_INTERVAL", TimeSpan.FromMilliseconds(200)),
            Runtime = runtime,
            WorkRoot = env(Jobplane.Worker.WorkRoot.Setting) is { Length: > 0 } w ? w : Jobplane.Worker.WorkRoot.Default(Runtimes.LibC.EffectiveUserId, env),
            TenantIds = tenants,
            MetricsPort = read.Int("WORKER_METRICS_PORT", DefaultMetricsPort, 0, 65535) is > 0 and var metricsPort ? metricsPort : null,
            LogFormat = Jobplane.Observability.LogFormat.Parse(env(Jobplane.Observability.LogFormat.Setting)) ?? Jobplane.Observability.LogFormat.Json,
        };
        if (Jobplane.Observability.LogFormat.Parse(env(Jobplane.Observability.LogFormat.Setting)) is null)
            read.Error(Jobplane.Observability.LogFormat.Invalid(env(Jobplane.Observability.LogFormat.Setting)));
        if (Jobplane.Observability.Telemetry.Validate(env) is { } otlpProblem) read.Error(otlpProblem);
        if (runtime == Runtimes.Docker.DockerRuntime.RuntimeName)
            options = options with { Docker = DockerRuntimeOptions.FromSettings(read, options.WorkRoot, options.WorkerId, options.KillGrace) };
        else if (runtime == Runtimes.Kubernetes.KubernetesRuntimeOptions.RuntimeName)
            options = options with { Kubernetes = Runtimes.Kubernetes.KubernetesRuntimeOptions.FromSettings(read, options.WorkRoot, options.WorkerId, options.KillGrace) };
        else if (runtime == Runtimes.Exec.ExecRuntime.RuntimeName)
            options = ReadExecUsers(read, env, options, Runtimes.LibC.EffectiveUserId);
        else if (Runtimes.RuntimeRegistry.Find(runtime) is null) read.Error($"RUNTIME '{runtime}' is not available in this build (available: {Runtimes.RuntimeRegistry.Describe()})");
        if (options.HeartbeatInterval <= TimeSpan.Zero) read.Error("WORKER_HEARTBEAT_INTERVAL must be positive");
        if (options.LogFlushInterval <= TimeSpan.Zero) read.Error("WORKER_LOG_FLUSH_INTERVAL must be positive");
        read.ThrowIfInvalid();
        return options;
    }

    /// <summary>
    /// Who exec jobs run as. A root worker gives each attempt a user of its own from EXEC_JOB_UIDS
    /// (a default range when unset) and never runs a job as root; a worker that cannot switch users
    /// refuses to start unless the operator accepts running jobs as its own user.
    /// </summary>
    internal static WorkerOptions ReadExecUsers(SettingReader read, Func<string, string?> env, WorkerOptions options, uint effectiveUid)
    {
        var asWorker = env("EXEC_RUN_AS_WORKER_USER")?.Trim().ToLowerInvariant();
        if (asWorker is not (null or "" or "true" or "false" or "1" or "0"))
            read.Error($"EXEC_RUN_AS_WORKER_USER must be true or false (got '{asWorker}')");
        var runAsWorker = asWorker is "true" or "1";
        var lockDirectory = read.String("EXEC_USER_LOCK_DIR") ?? Runtimes.Exec.JobUserPool.DefaultLockDirectory;
        if (!Path.IsPathFullyQualified(lockDirectory)) read.Error($"EXEC_USER_LOCK_DIR must be an absolute path (got '{lockDirectory}')");
        Runtimes.Exec.JobUserRange? range = null;
        if (read.String("EXEC_JOB_UIDS") is { } text)
        {
            range = Runtimes.Exec.JobUserRange.Parse(text, out var problem);
            if (problem is not null) read.Error("EXEC_JOB_UIDS " + problem);
        }

        if (effectiveUid == 0)
        {
            if (runAsWorker)
                read.Error("EXEC_RUN_AS_WORKER_USER=true would run exec jobs as root: unset it, and the root worker runs each job as a user of its own (EXEC_JOB_UIDS)");
            range ??= Runtimes.Exec.JobUserRange.Default;
            if (range.Count < options.Concurrency)
                read.Error($"EXEC_JOB_UIDS {range} has {range.Count} ids, fewer than WORKER_CONCURRENCY {options.Concurrency}: every running attempt needs a user of its own");
            return options with
            {
                ExecJobUsers = range,
                ExecUserLockDirectory = lockDirectory,
                ExecMaxProcesses = read.Int("EXEC_MAX_PROCESSES", 1024, 8, 1_000_000),
                ExecWorkDirectoryMaxBytes = ReadWorkDirectoryMaxBytes(read),
            };
        }
        if (range is not null)
            read.Error($"EXEC_JOB_UIDS needs a worker running as root to switch users (this one runs as user {effectiveUid})");
        else if (!runAsWorker)
            read.Error($"this worker runs as user {effectiveUid} and cannot run exec jobs as other users: run it as root (each job then gets a user of its own from EXEC_JOB_UIDS), or accept jobs running as this user with EXEC_RUN_AS_WORKER_USER=true");
        return options with
        {
            ExecRunAsWorkerUser = runAsWorker,
            ExecUserLockDirectory = lockDirectory,
            ExecWorkDirectoryMaxBytes = ReadWorkDirectoryMaxBytes(read),
        };
    }

    /// <summary>EXEC_WORKDIR_MAX_BYTES: a size such as 256m, or 0 for folders without a bound.</summary>
    private static long ReadWorkDirectoryMaxBytes(SettingReader read)
    {
        var text = read.String("EXEC_WORKDIR_MAX_BYTES");
        if (text is null) return Runtimes.Exec.ExecRuntimeOptions.DefaultWorkDirectoryMaxBytes;
        if (text == "0") return 0;
        if (ByteSize.TryParse(text, out var bytes) && bytes >= 1L << 20) return bytes;
        read.Error($"EXEC_WORKDIR_MAX_BYTES must be a size of at least 1 MiB such as 256m or 1g, or 0 for no bound (got '{text}')");
        return Runtimes.Exec.ExecRuntimeOptions.DefaultWorkDirectoryMaxBytes;
    }
}
