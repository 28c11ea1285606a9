using System.Net;
using Jobplane.Api;

namespace Jobplane.Controller;

/// <summary>
/// Bounds on what one tenant (or one client address) can make a replica store or hold: log bytes
/// per execution, followed log streams, API keys, failed authentications. Read with the rest of
/// <see cref="ControllerOptions"/>, so a bad value is reported together with every other one.
/// </summary>
public sealed record TenantLimitOptions
{
    public const long DefaultLogMaxBytes = 16L * 1024 * 1024;
    // The bounds of the operator's settings, and of a tenant's own (tenants.log_max_bytes_per_execution, log_follow_max).
    public const long MinLogMaxBytes = 1024;
    public const long MaxLogMaxBytes = 1L << 40;
    public const int MaxLogFollow = 100_000;

    /// <summary>Log bytes (UTF-8) stored per execution, all attempts together (LOG_MAX_BYTES_PER_EXECUTION).</summary>
    public long LogMaxBytesPerExecution { get; init; } = DefaultLogMaxBytes;
    /// <summary>Followed log streams one tenant may hold open at once on one replica (LOG_FOLLOW_MAX_PER_TENANT).</summary>
    public int LogFollowMaxPerTenant { get; init; } = 20;
    /// <summary>Longest one followed stream is served before the client is told to reconnect (LOG_FOLLOW_MAX_DURATION).</summary>
    public TimeSpan LogFollowMaxDuration { get; init; } = TimeSpan.FromHours(1);
    /// <summary>
    /// A follower re-reads on this period even without a notification (LOG_FOLLOW_POLL_INTERVAL):
    /// notifications are a hint, so a lost one only delays.
    /// </summary>
    public TimeSpan LogFollowPollInterval { get; init; } = TimeSpan.FromSeconds(5);
    /// <summary>Live (unrevoked, unexpired) API keys per tenant (MAX_API_KEYS_PER_TENANT).</summary>
    public int MaxApiKeysPerTenant { get; init; } = 20;
    /// <summary>Failed authentications one client address may make per minute on one replica (AUTH_FAILURES_PER_MINUTE; 0: no limit).</summary>
    public int AuthFailuresPerMinute { get; init; } = 20;
    /// <summary>Proxies whose X-Forwarded-For is believed (TRUSTED_PROXIES); none by default.</summary>
    public IReadOnlyList<IPNetwork> TrustedProxies { get; init; } = [];

    public static TenantLimitOptions Read(SettingReader read)
    {
        var options = new TenantLimitOptions
        {
            LogMaxBytesPerExecution = ReadSize(read, "LOG_MAX_BYTES_PER_EXECUTION", DefaultLogMaxBytes, MinLogMaxBytes, MaxLogMaxBytes),
            LogFollowMaxPerTenant = read.Int("LOG_FOLLOW_MAX_PER_TENANT", 20, 1, MaxLogFollow),
            LogFollowMaxDuration = read.Duration("LOG_FOLLOW_MAX_DURATION", TimeSpan.FromHours(1)),
            LogFollowPollInterval = read.Duration("LOG_FOLLOW_POLL_INTERVAL", TimeSpan.FromSeconds(5)),
            MaxApiKeysPerTenant = read.Int("MAX_API_KEYS_PER_TENANT", 20, 1, 10_000),
            AuthFailuresPerMinute = read.Int("AUTH_FAILURES_PER_MINUTE", 20, 0, 1_000_000),
            TrustedProxies = ReadNetworks(read, "TRUSTED_PROXIES"),
        };
        if (options.LogFollowMaxDuration < TimeSpan.FromSeconds(1)) read.Error("LOG_FOLLOW_MAX_DURATION must be at least 1s");
        if (options.LogFollowPollInterval < TimeSpan.FromMilliseconds(100)) read.Error("LOG_FOLLOW_POLL_INTERVAL must be at least 100ms");
        return options;
    }

    private static long ReadSize(SettingReader read, string key, long fallback, long min, long max)
    {
        if (read.String(key) is not { } text) return fallback;
        if (ByteSizes.TryParse(text, out var bytes) && bytes >= min && bytes <= max) return bytes;
        read.Error($"{key} must be a size between 1KiB and 1024GiB such as 16MiB, 512KiB or a number of bytes (got '{text}')");
        return fallback;
    }

    private static IReadOnlyList<IPNetwork> ReadNetworks(SettingReader read, string key)
    {
        if (read.String(key) is not { } text) return [];
        var list = new List<IPNetwork>();
        foreach (var part in text.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
        {
            if (IPNetwork.TryParse(part, out var network)) list.Add(network);
            else if (IPAddress.TryParse(part, out var address)) list.Add(new IPNetwork(address, address.GetAddressBytes().Length * 8));
            else read.Error($"{key} must be a comma-separated list of IP addresses or CIDR networks such as 10.0.0.0/8 (got '{part}')");
        }
        return list;
    }
}
