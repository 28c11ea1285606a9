using Jobplane.Api;

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

    public static ControllerOptions FromConfiguration(IConfiguration config)
    {
        var errors = new List<string>();
        var url = config["DATABASE_URL"];
        string connectionString = "";
        if (string.IsNullOrWhiteSpace(url)) errors.Add("DATABASE_URL is required (postgres://user:pass@host:port/db or a key=value connection string)");
        else
        {
            try { connectionString = Store.DatabaseUrl.ToConnectionString(url); }
            catch (Exception e) when (e is ArgumentException or UriFormatException or KeyNotFoundException)
            { errors.Add($"DATABASE_URL is not a valid PostgreSQL URL or connection string: {e.Message}"); }
        }

        var options = new ControllerOptions
        {
            ConnectionString = connectionString,
            Port = Int(config, "PORT", Wire.DefaultPort, 1, 65535, errors),
            SystemSecret = NonEmpty(config["SYSTEM_SECRET"]),
            WorkerToken = NonEmpty(config["WORKER_TOKEN"]),
            LeaseDuration = Duration(config, "HEARTBEAT_VISIBILITY_EXTENSION", TimeSpan.FromSeconds(30), errors),
            MaxDequeueWait = Duration(config, "DEQUEUE_MAX_WAIT", TimeSpan.FromSeconds(20), errors),
            MaintenanceInterval = Duration(config, "MAINTENANCE_INTERVAL", TimeSpan.FromSeconds(1), errors),
            RetryBackoffBase = Duration(config, "RETRY_BACKOFF_BASE", TimeSpan.FromSeconds(5), errors),
            RetryBackoffMax = Duration(config, "RETRY_BACKOFF_MAX", TimeSpan.FromMinutes(5), errors),
            DefaultMaxAttempts = Int(config, "DEFAULT_MAX_ATTEMPTS", 3, 1, 100, errors),
            DefaultTimeoutSeconds = Int(config, "DEFAULT_JOB_TIMEOUT", 3600, 1, 7 * 24 * 3600, errors),
        };
        if (options.SystemSecret is { Length: < 16 }) errors.Add("SYSTEM_SECRET must be at least 16 characters");
        if (options.WorkerToken is { Length: < 16 }) errors.Add("WORKER_TOKEN must be at least 16 characters");
        if (options.SystemSecret is not null && options.SystemSecret == options.WorkerToken)
            errors.Add("WORKER_TOKEN must differ from SYSTEM_SECRET: a worker must never hold the administrator's secret");
        if (options.LeaseDuration < TimeSpan.FromSeconds(1)) errors.Add("HEARTBEAT_VISIBILITY_EXTENSION must be at least 1s");
        if (options.MaintenanceInterval < TimeSpan.FromMilliseconds(10)) errors.Add("MAINTENANCE_INTERVAL must be at least 10ms");
        if (options.RetryBackoffMax < options.RetryBackoffBase) errors.Add("RETRY_BACKOFF_MAX must not be below RETRY_BACKOFF_BASE");
        if (errors.Count > 0) throw new InvalidOperationException("invalid configuration:\n  " + string.Join("\n  ", errors));
        return options;
    }

    private static string? NonEmpty(string? s) => string.IsNullOrWhiteSpace(s) ? null : s;

    private static int Int(IConfiguration c, string key, int fallback, int min, int max, List<string> errors)
    {
        var s = c[key];
        if (string.IsNullOrWhiteSpace(s)) return fallback;
        if (int.TryParse(s, out var v) && v >= min && v <= max) return v;
        errors.Add($"{key} must be an integer between {min} and {max} (got '{s}')");
        return fallback;
    }

    private static TimeSpan Duration(IConfiguration c, string key, TimeSpan fallback, List<string> errors)
    {
        var s = c[key];
        if (string.IsNullOrWhiteSpace(s)) return fallback;
        if (Durations.TryParse(s, out var v)) return v;
        errors.Add($"{key} must be a duration such as 500ms, 10s, 2m or a number of seconds (got '{s}')");
        return fallback;
    }
}
