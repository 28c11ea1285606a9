using Jobplane.Api;
using Jobplane.Controller.Images;
using Jobplane.Observability;
using Jobplane.Store;

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
    /// <summary>
    /// Longest a statement of a tenant's request may run, lock waits included (TENANT_STATEMENT_TIMEOUT).
    /// Worker and maintenance statements have their own pool and no such limit.
    /// </summary>
    public TimeSpan TenantStatementTimeout { get; init; } = TimeSpan.FromSeconds(10);
    /// <summary>Port serving /metrics without a credential, for a private network (METRICS_PORT); null: none.</summary>
    public int? MetricsPort { get; init; }
    /// <summary>Credential for scraping /metrics on the API port (METRICS_TOKEN); the administrator secret works too.</summary>
    public string? MetricsToken { get; init; }
    /// <summary>
    /// Characters of a job's command shown per row in GET /jobs (LIST_COMMAND_MAX_CHARS); a longer
    /// command is cut and marked command_truncated. Bounds a page to limit times this.
    /// </summary>
    public int ListCommandMaxChars { get; init; } = 1024;
    /// <summary>
    /// Bytes of line content (UTF-8) in one page of GET /executions/{id}/logs (LOG_PAGE_MAX_BYTES);
    /// a page stops before the line that would pass it, but always has at least one line.
    /// </summary>
    public int LogPageMaxBytes { get; init; } = 1024 * 1024;
    /// <summary>
    /// How long finished executions (with logs and attempts), dead letters and audit records are kept
    /// (RETENTION_EXECUTIONS, RETENTION_DEAD_LETTERS, RETENTION_AUDIT); null keeps them forever.
    /// </summary>
    public RetentionPolicy Retention { get; init; } = DefaultRetention;
    public static readonly RetentionPolicy DefaultRetention = new(TimeSpan.FromDays(30), TimeSpan.FromDays(30), TimeSpan.FromDays(365));
    /// <summary>How often a retention pass starts (RETENTION_INTERVAL); a pass that finds a backlog continues at every maintenance tick until it is gone.</summary>
    public TimeSpan RetentionInterval { get; init; } = TimeSpan.FromMinutes(1);
    /// <summary>Rows deleted per transaction by retention (RETENTION_BATCH_SIZE).</summary>
    public int RetentionBatchSize { get; init; } = 1000;
    /// <summary>
    /// The most of each maintenance interval, in percent, retention spends deleting while it has a
    /// backlog (RETENTION_MAX_PERCENT): the pace at which a backlog is worked off, traded against what
    /// it takes from claims and submissions on the same database (bench/RESULTS.md#retention).
    /// </summary>
    public int RetentionMaxPercent { get; init; } = DefaultRetentionMaxPercent;
    public const int DefaultRetentionMaxPercent = 10;
    /// <summary>Per-tenant and per-address bounds (log bytes, follow streams, keys, failed authentications).</summary>
    public TenantLimitOptions TenantLimits { get; init; } = new();
    /// <summary>Recurring schedules: caps, minimum interval, misfire grace, firing (<see cref="Schedules.ScheduleOptions"/>).</summary>
    public Schedules.ScheduleOptions Schedules { get; init; } = new();
    /// <summary>Webhooks: caps, address guard, retries, timeouts (<see cref="Webhooks.WebhookOptions"/>).</summary>
    public Webhooks.WebhookOptions Webhooks { get; init; } = new();
    /// <summary>The web dashboard: sessions and the trace link (<see cref="Dashboard.DashboardOptions"/>).</summary>
    public Dashboard.DashboardOptions Dashboard { get; init; } = new();
    /// <summary>Registries jobs may take their images from (IMAGE_REGISTRIES); any by default.</summary>
    public RegistryAllowList ImageRegistries { get; init; } = RegistryAllowList.Any;
    /// <summary>
    /// The fraction of the fleet's announced slots one tenant may hold while another tenant has ready
    /// work a claiming worker can run (FAIR_SHARE_MAX_FRACTION), unless the tenant has its own
    /// max_fleet_share; in (0, 1], 1 lifts the cap. No worker announcing its slots: no cap.
    /// </summary>
    public double FairShareMaxFraction { get; init; } = FairShare.DefaultMaxFleetShare;

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
            TenantStatementTimeout = read.Duration("TENANT_STATEMENT_TIMEOUT", TimeSpan.FromSeconds(10)),
            MetricsPort = read.Int("METRICS_PORT", 0, 0, 65535) is var mp and > 0 ? mp : null,
            MetricsToken = read.String("METRICS_TOKEN"),
            ListCommandMaxChars = read.Int("LIST_COMMAND_MAX_CHARS", 1024, 1, 1024 * 1024),
            LogPageMaxBytes = read.Int("LOG_PAGE_MAX_BYTES", 1024 * 1024, 1024, 64 * 1024 * 1024),
            Retention = new RetentionPolicy(
                ReadRetention(read, "RETENTION_EXECUTIONS", DefaultRetention.Executions),
                ReadRetention(read, "RETENTION_DEAD_LETTERS", DefaultRetention.DeadLetters),
                ReadRetention(read, "RETENTION_AUDIT", DefaultRetention.Audit)),
            RetentionInterval = read.Duration("RETENTION_INTERVAL", TimeSpan.FromMinutes(1)),
            RetentionBatchSize = read.Int("RETENTION_BATCH_SIZE", 1000, 1, 10_000),
            RetentionMaxPercent = read.Int("RETENTION_MAX_PERCENT", DefaultRetentionMaxPercent, 1, 90),
            TenantLimits = TenantLimitOptions.Read(read),
            Schedules = Jobplane.Controller.Schedules.ScheduleOptions.Read(read),
            Webhooks = Jobplane.Controller.Webhooks.WebhookOptions.Read(read),
            Dashboard = Jobplane.Controller.Dashboard.DashboardOptions.Read(read),
            ImageRegistries = RegistryAllowList.Read(read),
            FairShareMaxFraction = ReadFraction(read, "FAIR_SHARE_MAX_FRACTION", FairShare.DefaultMaxFleetShare),
        };
        if (LogFormat.Parse(config[LogFormat.Setting]) is null)
            read.Error(LogFormat.Invalid(config[LogFormat.Setting]));
        if (Telemetry.Validate(key => config[key]) is { } otlpProblem) read.Error(otlpProblem);
        if (options.QueueMetricsInterval < TimeSpan.Zero) read.Error("QUEUE_METRICS_INTERVAL must not be negative");
        if (options.SystemSecret is { Length: < 16 }) read.Error("SYSTEM_SECRET must be at least 16 characters");
        if (options.WorkerToken is { Length: < 16 }) read.Error("WORKER_TOKEN must be at least 16 characters");
        if (options.MetricsToken is { Length: < 16 }) read.Error("METRICS_TOKEN must be at least 16 characters");
        if (options.MetricsToken is not null && options.MetricsToken == options.WorkerToken)
            read.Error("METRICS_TOKEN must differ from WORKER_TOKEN");
        if (options.MetricsPort is { } metricsPort && metricsPort == options.Port) read.Error("METRICS_PORT must differ from PORT");
        if (options.SystemSecret is not null && options.SystemSecret == options.WorkerToken)
            read.Error("WORKER_TOKEN must differ from SYSTEM_SECRET: a worker must never hold the administrator's secret");
        if (options.LeaseDuration < TimeSpan.FromSeconds(1)) read.Error("HEARTBEAT_VISIBILITY_EXTENSION must be at least 1s");
        if (options.MaintenanceInterval < TimeSpan.FromMilliseconds(10)) read.Error("MAINTENANCE_INTERVAL must be at least 10ms");
        if (options.TenantStatementTimeout < TimeSpan.FromMilliseconds(100) || options.TenantStatementTimeout > TimeSpan.FromHours(1))
            read.Error("TENANT_STATEMENT_TIMEOUT must be between 100ms and 1h");
        if (options.RetryBackoffMax < options.RetryBackoffBase) read.Error("RETRY_BACKOFF_MAX must not be below RETRY_BACKOFF_BASE");
        if (options.RetentionInterval < TimeSpan.FromSeconds(1)) read.Error("RETENTION_INTERVAL must be at least 1s");
        // Its own type, so start-up recognises a bad setting without reading the message.
        if (read.Errors.Count > 0) throw new ConfigurationException("invalid configuration:\n  " + string.Join("\n  ", read.Errors));
        return options;
    }

    /// <summary>
    /// A retention: days ("30d"), a duration ("36h", "90m"), or "off"/"0" to keep that class forever.
    /// At least a day: an idempotency key lives 24 hours and is deleted with its execution, so a
    /// shorter retention would let a repeated request run the job again.
    /// </summary>
    private static TimeSpan? ReadRetention(SettingReader read, string key, TimeSpan? fallback)
    {
        if (read.String(key) is not { } value) return fallback;
        if (value.Equals("off", StringComparison.OrdinalIgnoreCase) || value == "0") return null;
        TimeSpan keep;
        if (value.EndsWith('d') && int.TryParse(value.AsSpan(0, value.Length - 1), System.Globalization.NumberStyles.None,
                System.Globalization.CultureInfo.InvariantCulture, out var days) && days <= 36_500)
            keep = TimeSpan.FromDays(days);
        else if (!Durations.TryParse(value, out keep) || keep > TimeSpan.FromDays(36_500))
        {
            read.Error($"{key} must be a number of days such as 30d, a duration such as 36h, or off (got '{value}')");
            return fallback;
        }
        if (keep < TimeSpan.FromDays(1))
        {
            read.Error($"{key} must be at least 1d (idempotency keys live 24 hours and go with their execution), or off (got '{value}')");
            return fallback;
        }
        return keep;
    }

    /// <summary>A number above 0 and at most 1 ("0.5"); NaN and infinities are refused like any other bad value.</summary>
    private static double ReadFraction(SettingReader read, string key, double fallback)
    {
        if (read.String(key) is not { } value) return fallback;
        if (double.TryParse(value, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out var f)
            && f > 0 && f <= 1)
            return f;
        read.Error($"{key} must be a fraction above 0 and at most 1, such as 0.5 (1 lifts the cap) (got '{value}')");
        return fallback;
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
