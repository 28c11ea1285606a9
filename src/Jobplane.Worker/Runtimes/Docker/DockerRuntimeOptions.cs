using System.Globalization;
using Jobplane.Api;

namespace Jobplane.Worker.Runtimes.Docker;

/// <summary>When the docker runtime pulls a job's image.</summary>
public enum PullPolicy
{
    /// <summary>Pull only when the engine does not have the image yet.</summary>
    IfNotPresent,
    /// <summary>Pull before every attempt; an attempt whose pull fails fails.</summary>
    Always,
    /// <summary>Never pull: only images already on the engine can run.</summary>
    Never,
}

/// <summary>The resources one container may use.</summary>
public sealed record ContainerLimits
{
    public required long MemoryBytes { get; init; }
    /// <summary>CPU time, in CPUs (0.5 is half of one CPU).</summary>
    public required double Cpus { get; init; }
    /// <summary>Processes and threads together.</summary>
    public required long Pids { get; init; }
}

/// <summary>
/// Settings of the docker runtime. Every default isolates: no network, no capabilities, no
/// privilege escalation, a non-root user, a read-only root filesystem, bounded memory, CPU and
/// processes. The operator loosens them with the DOCKER_* settings. A job may ask for other
/// resources (up to the DOCKER_*_MAX maximums, see <see cref="ResolveLimits"/>), for network
/// (which it gets only where the operator allows one, see <see cref="ResolveNetwork"/>) and to run
/// as root (only where the operator allows root, see <see cref="ResolveUser"/>).
/// </summary>
public sealed record DockerRuntimeOptions
{
    public const string DefaultEndpoint = "unix:///var/run/docker.sock";
    /// <summary>Where the per-attempt output folder appears inside the container.</summary>
    public const string OutputMountPath = "/jobplane/output";

    /// <summary>Directory under which each attempt gets its own output folder: {WorkRoot}/{WorkerId}/.</summary>
    public required string WorkRoot { get; init; }
    /// <summary>This worker's stable identity; its containers carry it as a label.</summary>
    public required string WorkerId { get; init; }
    /// <summary>Time between SIGTERM and SIGKILL when a job is timed out or stopped.</summary>
    public TimeSpan KillGrace { get; init; } = TimeSpan.FromSeconds(10);
    /// <summary>The Docker Engine API (DOCKER_HOST): unix:///path or tcp://host:port.</summary>
    public Uri Endpoint { get; init; } = new(DefaultEndpoint);
    public PullPolicy PullPolicy { get; init; } = PullPolicy.IfNotPresent;
    /// <summary>Longest a pull may take; the job's own timeout starts when its container starts.</summary>
    public TimeSpan PullTimeout { get; init; } = TimeSpan.FromMinutes(5);
    /// <summary>What a job gets when it asks for nothing.</summary>
    public ContainerLimits DefaultLimits { get; init; } = new() { MemoryBytes = 512L << 20, Cpus = 1, Pids = 256 };
    /// <summary>The most a job may ask for.</summary>
    public ContainerLimits MaxLimits { get; init; } = new() { MemoryBytes = 512L << 20, Cpus = 1, Pids = 256 };
    /// <summary>Numeric "uid:gid" the job runs as; numeric so that no image's /etc/passwd can map it to root.</summary>
    public string User { get; init; } = "65534:65534";
    /// <summary>
    /// Whether root is allowed on this worker: <see cref="User"/> may be root (uid or gid 0), and a job
    /// that asks to run as root does (otherwise its attempt fails without retry).
    /// </summary>
    public bool AllowRoot { get; init; }
    /// <summary>The user a job that asks to run as root runs as, where <see cref="AllowRoot"/> lets it.</summary>
    public const string RootUser = "0:0";
    /// <summary>
    /// The network a job that asks for network joins: none (the default: no job gets network) or a
    /// network the operator allows (host, bridge, a named one). A job that does not ask always gets none.
    /// </summary>
    public string Network { get; init; } = NoNetwork;
    public const string NoNetwork = "none";
    public bool ReadOnlyRootFilesystem { get; init; } = true;
    /// <summary>Size of the writable tmpfs at /tmp; what is written there counts against the memory limit.</summary>
    public long TmpfsBytes { get; init; } = 64L << 20;
    /// <summary>Longer output lines are delivered in pieces of this many characters.</summary>
    public int MaxLineChars { get; init; } = 64 * 1024;
    /// <summary>
    /// The most a job may write into its output folder (DOCKER_OUTPUT_MAX_BYTES): a root worker
    /// mounts a tmpfs of this size on it, held in the worker host's memory. 0: not bounded.
    /// </summary>
    public long OutputMaxBytes { get; init; } = 64L << 20;
    /// <summary>
    /// Whether only a job with network may make the engine pull its image (DOCKER_PULL_REQUIRES_NETWORK):
    /// the engine pulls over the host's network, which a job without network must not reach through it.
    /// </summary>
    public bool PullRequiresNetwork { get; init; } = true;

    /// <summary>
    /// The limits for one job: its request where it made one, the operator's default otherwise.
    /// Returns why the request cannot be granted, or null.
    /// </summary>
    public string? ResolveLimits(ResourceRequest? request, out ContainerLimits limits)
    {
        limits = new ContainerLimits
        {
            MemoryBytes = request?.MemoryBytes ?? DefaultLimits.MemoryBytes,
            Cpus = request?.Cpus ?? DefaultLimits.Cpus,
            Pids = request?.Pids ?? DefaultLimits.Pids,
        };
        if (limits.MemoryBytes <= 0 || limits.MemoryBytes > MaxLimits.MemoryBytes)
            return $"memory request {ByteSize.Format(limits.MemoryBytes)} is not within this worker's maximum of {ByteSize.Format(MaxLimits.MemoryBytes)}";
        if (limits.Cpus <= 0 || limits.Cpus > MaxLimits.Cpus)
            return string.Create(CultureInfo.InvariantCulture, $"CPU request {limits.Cpus} is not within this worker's maximum of {MaxLimits.Cpus}");
        if (limits.Pids <= 0 || limits.Pids > MaxLimits.Pids)
            return string.Create(CultureInfo.InvariantCulture, $"process limit request {limits.Pids} is not within this worker's maximum of {MaxLimits.Pids}");
        return null;
    }

    /// <summary>
    /// The network for one job: none unless it asks, <see cref="Network"/> when it asks. Returns why
    /// the request cannot be granted (this worker allows no network), or null.
    /// </summary>
    public string? ResolveNetwork(bool asked, out string network)
    {
        network = NoNetwork;
        if (!asked) return null;
        if (Network == NoNetwork) return "the job asks for network, and this worker allows none (DOCKER_NETWORK=none)";
        network = Network;
        return null;
    }

    /// <summary>
    /// The user for one job: <see cref="User"/> unless it asks to run as root, <see cref="RootUser"/>
    /// when it asks and this worker allows root. Returns why the request cannot be granted, or null.
    /// </summary>
    public string? ResolveUser(bool asksRoot, out string user)
    {
        user = User;
        if (!asksRoot) return null;
        if (!AllowRoot) return "the job asks to run as root, and this worker does not allow it (DOCKER_ALLOW_ROOT=false)";
        user = RootUser;
        return null;
    }

    /// <summary>What a docker worker with these settings can grant: container images, and requests up to its maximums.</summary>
    public WorkerCapabilities Capabilities => new()
    {
        RuntimeClasses = [RuntimeClasses.Container],
        Network = Network != NoNetwork,
        RunAsRoot = AllowRoot,
        // Whole MiB, rounded down: a job asks in MiB, so it fits when its MiB fit.
        MaxMemoryMib = (int)Math.Min(MaxLimits.MemoryBytes >> 20, 1024 * 1024),
        MaxCpus = MaxLimits.Cpus,
        MaxPids = (int)Math.Min(MaxLimits.Pids, 1_000_000),
    };

    /// <summary>Why these settings cannot work, or null. Checked at start-up and by the runtime itself.</summary>
    public string? Validate()
    {
        if (Endpoint.Scheme is not ("unix" or "tcp" or "http"))
            return $"DOCKER_HOST must be unix:///path/to/docker.sock or tcp://host:port (got '{Endpoint}')";
        if (!TryParseUser(User, out var uid, out var gid))
            return $"DOCKER_USER must be a numeric uid:gid such as 65534:65534 (got '{User}')";
        if ((uid == 0 || gid == 0) && !AllowRoot)
            return $"DOCKER_USER '{User}' runs jobs as root; set DOCKER_ALLOW_ROOT=true to allow it";
        if (!IsNetworkName(Network))
            return $"DOCKER_NETWORK must be none, host, bridge or the name of a network (got '{Network}')";
        if (DefaultLimits.MemoryBytes < 6L << 20)
            return "DOCKER_MEMORY_LIMIT must be at least 6 MiB (the engine refuses less)";
        if (DefaultLimits.Cpus <= 0) return "DOCKER_CPU_LIMIT must be positive";
        if (DefaultLimits.Pids <= 0) return "DOCKER_PIDS_LIMIT must be positive";
        if (MaxLimits.MemoryBytes < DefaultLimits.MemoryBytes)
            return "DOCKER_MEMORY_LIMIT_MAX must not be below DOCKER_MEMORY_LIMIT";
        if (MaxLimits.Cpus < DefaultLimits.Cpus) return "DOCKER_CPU_LIMIT_MAX must not be below DOCKER_CPU_LIMIT";
        if (MaxLimits.Pids < DefaultLimits.Pids) return "DOCKER_PIDS_LIMIT_MAX must not be below DOCKER_PIDS_LIMIT";
        if (TmpfsBytes <= 0) return "DOCKER_TMPFS_SIZE must be positive";
        if (PullTimeout <= TimeSpan.Zero) return "DOCKER_PULL_TIMEOUT must be positive";
        if (OutputMaxBytes < 0) return "DOCKER_OUTPUT_MAX_BYTES must not be negative";
        return null;
    }

    /// <summary>Reads the DOCKER_* settings, reporting every bad one to <paramref name="read"/>.</summary>
    public static DockerRuntimeOptions FromSettings(SettingReader read, string workRoot, string workerId, TimeSpan killGrace)
    {
        ArgumentNullException.ThrowIfNull(read);
        var defaults = new DockerRuntimeOptions { WorkRoot = workRoot, WorkerId = workerId };
        var errorsBefore = read.Errors.Count;

        var endpoint = defaults.Endpoint;
        if (read.String("DOCKER_HOST") is { } host)
        {
            if (Uri.TryCreate(host, UriKind.Absolute, out var uri)) endpoint = uri;
            else read.Error($"DOCKER_HOST must be unix:///path/to/docker.sock or tcp://host:port (got '{host}')");
        }

        var policy = read.String("DOCKER_PULL_POLICY")?.ToLowerInvariant() switch
        {
            null or "if-not-present" or "ifnotpresent" => PullPolicy.IfNotPresent,
            "always" => PullPolicy.Always,
            "never" => PullPolicy.Never,
            var other => Invalid(read, $"DOCKER_PULL_POLICY must be if-not-present, always or never (got '{other}')", PullPolicy.IfNotPresent),
        };

        var memory = Size(read, "DOCKER_MEMORY_LIMIT", defaults.DefaultLimits.MemoryBytes);
        var cpus = Cpus(read, "DOCKER_CPU_LIMIT", defaults.DefaultLimits.Cpus);
        var pids = (long)read.Int("DOCKER_PIDS_LIMIT", (int)defaults.DefaultLimits.Pids, 1, 1_000_000);
        var limits = new ContainerLimits { MemoryBytes = memory, Cpus = cpus, Pids = pids };
        var max = new ContainerLimits
        {
            MemoryBytes = Size(read, "DOCKER_MEMORY_LIMIT_MAX", memory),
            Cpus = Cpus(read, "DOCKER_CPU_LIMIT_MAX", cpus),
            Pids = read.Int("DOCKER_PIDS_LIMIT_MAX", (int)pids, 1, 1_000_000),
        };

        var options = defaults with
        {
            KillGrace = killGrace,
            Endpoint = endpoint,
            PullPolicy = policy,
            PullTimeout = read.Duration("DOCKER_PULL_TIMEOUT", defaults.PullTimeout),
            DefaultLimits = limits,
            MaxLimits = max,
            User = read.String("DOCKER_USER") ?? defaults.User,
            AllowRoot = Bool(read, "DOCKER_ALLOW_ROOT", defaults.AllowRoot),
            Network = read.String("DOCKER_NETWORK") ?? defaults.Network,
            ReadOnlyRootFilesystem = Bool(read, "DOCKER_READ_ONLY_ROOTFS", defaults.ReadOnlyRootFilesystem),
            TmpfsBytes = Size(read, "DOCKER_TMPFS_SIZE", defaults.TmpfsBytes),
            OutputMaxBytes = read.String("DOCKER_OUTPUT_MAX_BYTES") is "0" ? 0 : Size(read, "DOCKER_OUTPUT_MAX_BYTES", defaults.OutputMaxBytes),
            PullRequiresNetwork = Bool(read, "DOCKER_PULL_REQUIRES_NETWORK", defaults.PullRequiresNetwork),
        };
        // Each value parsed: what remains is how they fit together.
        if (read.Errors.Count == errorsBefore && options.Validate() is { } problem) read.Error(problem);
        return options;
    }

    internal static bool TryParseUser(string user, out long uid, out long gid)
    {
        uid = gid = -1;
        var parts = user.Split(':');
        return parts.Length == 2 &&
            long.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out uid) &&
            long.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out gid) &&
            uid <= uint.MaxValue - 1 && gid <= uint.MaxValue - 1;
    }

    private static bool IsNetworkName(string network) =>
        network.Length is > 0 and <= 128 && char.IsAsciiLetterOrDigit(network[0]) &&
        network.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.');

    private static T Invalid<T>(SettingReader read, string message, T fallback)
    {
        read.Error(message);
        return fallback;
    }

    private static long Size(SettingReader read, string key, long fallback)
    {
        var s = read.String(key);
        if (s is null) return fallback;
        if (ByteSize.TryParse(s, out var bytes) && bytes > 0) return bytes;
        return Invalid(read, $"{key} must be a size such as 512m, 1g or 64MiB (got '{s}')", fallback);
    }

    private static double Cpus(SettingReader read, string key, double fallback)
    {
        var s = read.String(key);
        if (s is null) return fallback;
        if (double.TryParse(s, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var cpus) && cpus is >= 0.01 and <= 1024)
            return cpus;
        return Invalid(read, $"{key} must be a number of CPUs between 0.01 and 1024, such as 0.5 or 2 (got '{s}')", fallback);
    }

    private static bool Bool(SettingReader read, string key, bool fallback) => read.String(key)?.ToLowerInvariant() switch
    {
        null => fallback,
        "true" or "1" or "yes" => true,
        "false" or "0" or "no" => false,
        var other => Invalid(read, $"{key} must be true or false (got '{other}')", fallback),
    };
}
