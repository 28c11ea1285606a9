using Jobplane.Api;

namespace Jobplane.Controller.Webhooks;

/// <summary>The operator's settings for webhooks, read with the rest of <see cref="ControllerOptions"/>.</summary>
public sealed record WebhookOptions
{
    /// <summary>Endpoints one tenant may hold (MAX_WEBHOOKS_PER_TENANT).</summary>
    public int MaxPerTenant { get; init; } = 10;
    /// <summary>Whether endpoints may be plain http (WEBHOOK_ALLOW_HTTP); https only by default.</summary>
    public bool AllowHttp { get; init; }
    /// <summary>
    /// Address ranges (CIDR) deliveries may reach although they are private, loopback or link-local
    /// (WEBHOOK_ALLOWED_RANGES, comma-separated): an operator's own receivers inside its network.
    /// </summary>
    public IReadOnlyList<string> AllowedRanges { get; init; } = [];
    /// <summary>How long a delivery is retried before it fails for good, and how long an endpoint may fail before it is disabled (WEBHOOK_RETRY_PERIOD).</summary>
    public TimeSpan RetryPeriod { get; init; } = TimeSpan.FromDays(1);
    /// <summary>The first retry's delay (WEBHOOK_RETRY_BASE); each next one doubles, with jitter, up to WEBHOOK_RETRY_MAX.</summary>
    public TimeSpan RetryBase { get; init; } = TimeSpan.FromSeconds(5);
    public TimeSpan RetryMax { get; init; } = TimeSpan.FromHours(1);
    /// <summary>How long the old secret goes on signing after a rotation, unless the request says (WEBHOOK_SECRET_OVERLAP).</summary>
    public TimeSpan SecretOverlap { get; init; } = TimeSpan.FromHours(24);
    public TimeSpan ConnectTimeout { get; init; } = TimeSpan.FromSeconds(5);
    /// <summary>The whole request, connection to the last byte of the answer's head (WEBHOOK_TIMEOUT).</summary>
    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(15);
    /// <summary>Deliveries in flight at once on this controller (WEBHOOK_CONCURRENCY).</summary>
    public int Concurrency { get; init; } = 32;
    /// <summary>
    /// Of those, at most this many to one endpoint (WEBHOOK_CONCURRENCY_PER_ENDPOINT): one tenant's
    /// slow or flooded receiver gets its share, not every slot.
    /// </summary>
    public int ConcurrencyPerEndpoint { get; init; } = 8;
    /// <summary>How often an idle dispatcher looks for due deliveries (WEBHOOK_POLL_INTERVAL).</summary>
    public TimeSpan PollInterval { get; init; } = TimeSpan.FromMilliseconds(250);
    /// <summary>How long finished deliveries and their attempts are kept (WEBHOOK_DELIVERY_RETENTION).</summary>
    public TimeSpan DeliveryRetention { get; init; } = TimeSpan.FromDays(7);
    /// <summary>Whether this controller delivers at all (WEBHOOK_DELIVERY); every controller does by default.</summary>
    public bool Delivering { get; init; } = true;

    public static WebhookOptions Read(SettingReader read)
    {
        var options = new WebhookOptions
        {
            MaxPerTenant = read.Int("MAX_WEBHOOKS_PER_TENANT", 10, 0, 1000),
            AllowHttp = Flag(read, "WEBHOOK_ALLOW_HTTP", false),
            AllowedRanges = read.String("WEBHOOK_ALLOWED_RANGES") is { } ranges
                ? [.. ranges.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)]
                : [],
            RetryPeriod = read.Duration("WEBHOOK_RETRY_PERIOD", TimeSpan.FromDays(1)),
            RetryBase = read.Duration("WEBHOOK_RETRY_BASE", TimeSpan.FromSeconds(5)),
            RetryMax = read.Duration("WEBHOOK_RETRY_MAX", TimeSpan.FromHours(1)),
            SecretOverlap = read.Duration("WEBHOOK_SECRET_OVERLAP", TimeSpan.FromHours(24)),
            ConnectTimeout = read.Duration("WEBHOOK_CONNECT_TIMEOUT", TimeSpan.FromSeconds(5)),
            Timeout = read.Duration("WEBHOOK_TIMEOUT", TimeSpan.FromSeconds(15)),
            Concurrency = read.Int("WEBHOOK_CONCURRENCY", 32, 1, 1024),
            ConcurrencyPerEndpoint = read.Int("WEBHOOK_CONCURRENCY_PER_ENDPOINT", 8, 1, 1024),
            PollInterval = read.Duration("WEBHOOK_POLL_INTERVAL", TimeSpan.FromMilliseconds(250)),
            DeliveryRetention = read.Duration("WEBHOOK_DELIVERY_RETENTION", TimeSpan.FromDays(7)),
            Delivering = Flag(read, "WEBHOOK_DELIVERY", true),
        };
        if (options.RetryPeriod < TimeSpan.FromSeconds(1)) read.Error("WEBHOOK_RETRY_PERIOD must be at least 1s");
        if (options.RetryBase < TimeSpan.FromMilliseconds(10) || options.RetryBase > options.RetryMax)
            read.Error("WEBHOOK_RETRY_BASE must be at least 10ms and at most WEBHOOK_RETRY_MAX");
        if (options.ConnectTimeout <= TimeSpan.Zero || options.Timeout <= TimeSpan.Zero || options.Timeout > TimeSpan.FromMinutes(5))
            read.Error("WEBHOOK_CONNECT_TIMEOUT and WEBHOOK_TIMEOUT must be positive, WEBHOOK_TIMEOUT at most 5m");
        if (options.PollInterval < TimeSpan.FromMilliseconds(10) || options.PollInterval > TimeSpan.FromMinutes(1))
            read.Error("WEBHOOK_POLL_INTERVAL must be between 10ms and 1m");
        if (options.SecretOverlap < TimeSpan.Zero || options.SecretOverlap > TimeSpan.FromDays(30))
            read.Error("WEBHOOK_SECRET_OVERLAP must be between 0s and 30d");
        try
        {
            Jobplane.Webhooks.DestinationPolicy.FromAllowList(options.AllowedRanges);
        }
        catch (FormatException e)
        {
            read.Error($"WEBHOOK_ALLOWED_RANGES: {e.Message}");
        }
        if (options.DeliveryRetention < TimeSpan.FromHours(1)) read.Error("WEBHOOK_DELIVERY_RETENTION must be at least 1h");
        return options;
    }

    private static bool Flag(SettingReader read, string key, bool fallback)
    {
        switch (read.String(key)?.ToLowerInvariant())
        {
            case null: return fallback;
            case "true" or "1" or "yes" or "on": return true;
            case "false" or "0" or "no" or "off": return false;
            case var other:
                read.Error($"{key} must be true or false (got '{other}')");
                return fallback;
        }
    }
}
