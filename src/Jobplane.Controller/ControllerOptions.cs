using Jobplane.Api;
using Jobplane.Observability;

namespace Jobplane.Controller;

/// <summary>
/// The controller's settings, read from environment variables (names from the jobplane contract)
/// and validated at start-up: a bad setting stops the process with a message naming it.
/// </summary>
public sealed record ControllerOptions
{
    public required string ConnectionString { get; init; }
    public int Port { get; init; } = Wire.DefaultPort;
    /// <summary>Administrator secret (tenant management). Unset: administrator routes answer 401.</summary>
    public string? SystemSecret { get; init; }
    /// <summary>Shared worker credential. Unset: worker routes answer 401.</summary>
    public string? WorkerToken { get; init; }
    /// <summary>How long a claim or heartbeat extends a lease (HEARTBEAT_VISIBILITY_EXTENSION).</summary>
    public TimeSpan LeaseDuration { get; init; } = TimeSpan.FromSeconds(30);
    /// <summary>Longest a dequeue long-poll waits for work.</summary>
    public TimeSpan MaxDequeueWait { get; init; } = TimeSpan.FromSeconds(20);
    /// <summary>How often promotion of due work and rescue of expired leases run.</summary>
    public TimeSpan MaintenanceInterval { get; init; } = TimeSpan.FromSeconds(1);
    public TimeSpan RetryBackoffBase { get; init; } = TimeSpan.FromSeconds(5);
    public TimeSpan RetryBackoffMax { get; init; } = TimeSpan.FromMinutes(5);
    public int DefaultMaxAttempts { get; init; } = 3;
    public int DefaultTimeoutSeconds { get; init; } = 3600;
    /// <summary>How often the queue gauges are refreshed from the database (QUEUE_METRICS_INTERVAL); zero turns them off.</summary>
    public TimeSpan QueueMetricsInterval { get; init; } = TimeSpan.FromSeconds(15);
    /// <summary>
    /// allowed_runtimes of a tenant created without them (TENANT_DEFAULT_RUNTIMES). Container runtimes
    /// only by default: exec runs jobs on the worker's host, so an administrator allows it per tenant.
    /// </summary>
    /// <para>any: no restriction (null), what tenants got before; a worker naming no runtime (the
    /// benchmark's noop worker) claims only from unrestricted tenants.</para>
    public IReadOnlyList<string>? TenantDefaultRuntimes { get; init; } = DefaultTenantRuntimes;
    public static readonly IReadOnlyList<string> DefaultTenantRuntimes = ["docker", "kubernetes"];
    /// <summary>Per-tenant and per-address bounds (log bytes, follow streams, keys, failed authentications).</summary>
    public TenantLimitOptions TenantLimits { get; init; } = new();

    public static ControllerOptions FromConfiguration(IConfiguration config)
    {
        var read = new SettingReader(key => config[key]);
        var url = read.String("DATABASE_URL");
        var connectionString = "";
        if (url is null) read.Error("DATABASE_URL is required (postgres://user:pass@host:port/db or a key=value connection string)");
        else
        {
            try { connectionString = Store.DatabaseUrl.ToConnectionString(url); }
            catch (Exception e) when (e is ArgumentException or UriFormatException or KeyNotFoundException)
            { read.Error($"DATABASE_URL is not a valid PostgreSQL URL or connection string: {e.Message}"); }
        }

        var options = new ControllerOptions
        {
            ConnectionString = connectionString,
            Port = read.Int("PORT", Wire.DefaultPort, 1, 65535),
            SystemSecret = read.String("SYSTEM_SECRET"),
            WorkerToken = read.String("WORKER_TOKEN"),
            LeaseDuration = read.Duration("HEARTBEAT_VISIBILITY_EXTENSION", TimeSpan.FromSeconds(30)),
            MaxDequeueWait = read.Duration("DEQUEUE_MAX_WAIT", TimeSpan.FromSeconds(20)),
            MaintenanceInterval = read.Duration("MAINTENANCE_INTERVAL", TimeSpan.FromSeconds(1)),
            RetryBackoffBase = read.Duration("RETRY_BACKOFF_BASE", TimeSpan.FromSeconds(5)),
            RetryBackoffMax = read.Duration("RETRY_BACKOFF_MAX", TimeSpan.FromMinutes(5)),
            DefaultMaxAttempts = read.Int("DEFAULT_MAX_ATTEMPTS", 3, 1, 100),
            DefaultTimeoutSeconds = read.Int("DEFAULT_JOB_TIMEOUT", 3600, 1, 7 * 24 * 3600),
            QueueMetricsInterval = read.Duration("QUEUE_METRICS_INTERVAL", TimeSpan.FromSeconds(15)),
            TenantDefaultRuntimes = ReadRuntimes(read, "TENANT_DEFAULT_RUNTIMES", DefaultTenantRuntimes),
            TenantLimits = TenantLimitOptions.Read(read),
        };
        if (LogFormat.Parse(config[LogFormat.Setting]) is null)
            read.Error(LogFormat.Invalid(config[LogFormat.Setting]));
        if (Telemetry.Validate(key => config[key]) is { } otlpProblem) read.Error(otlpProblem);
        if (options.QueueMetricsInterval < TimeSpan.Zero) read.Error("QUEUE_METRICS_INTERVAL must not be negative");
        if (options.SystemSecret is { Length: < 16 }) read.Error("SYSTEM_SECRET must be at least 16 characters");
        if (options.WorkerToken is { Length: < 16 }) read.Error("WORKER_TOKEN must be at least 16 characters");
        if (options.SystemSecret is not null && options.SystemSecret == options.WorkerToken)
            read.Error("WORKER_TOKEN must differ from SYSTEM_SECRET: a worker must never hold the administrator's secret");
        if (options.LeaseDuration < TimeSpan.FromSeconds(1)) read.Error("HEARTBEAT_VISIBILITY_EXTENSION must be at least 1s");
        if (options.MaintenanceInterval < TimeSpan.FromMilliseconds(10)) read.Error("MAINTENANCE_INTERVAL must be at least 10ms");
        if (options.RetryBackoffMax < options.RetryBackoffBase) read.Error("RETRY_BACKOFF_MAX must not be below RETRY_BACKOFF_BASE");
        read.ThrowIfInvalid();
        return options;
    }

    private static IReadOnlyList<string>? ReadRuntimes(SettingReader read, string key, IReadOnlyList<string> fallback)
    {
        if (read.String(key) is not { } value) return fallback;
        if (value.Equals("any", StringComparison.OrdinalIgnoreCase)) return null;
        var names = value.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries).Distinct().ToList();
        var unknown = names.Where(n => !Runtimes.IsKnown(n)).ToList();
        if (names.Count == 0 || unknown.Count > 0)
        {
            read.Error($"{key} must be any or a comma-separated list of runtimes among {string.Join(", ", Runtimes.Known)} (got '{value}')");
            return fallback;
        }
        return names;
    }
}
