using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;

namespace Jobplane.Controller.Auth;

/// <summary>
/// A budget of failed authentications per client address, on this replica, in memory: every wrong
/// key costs a database probe, so an address that keeps guessing is refused (429 with Retry-After)
/// before its request reaches the database. Each address has a bucket of AUTH_FAILURES_PER_MINUTE
/// failures, refilled evenly over a minute; successes take nothing from it. IPv6 addresses count by
/// their /64 (one host usually holds a whole /64, so counting single addresses would not bound it).
/// <para>Bounded: at most <see cref="MaxAddresses"/> buckets. When full, buckets that have refilled
/// (they hold no state) are dropped; if that frees too little, arbitrary ones are, which gives those
/// addresses a fresh budget rather than letting memory grow. Requests without a client address
/// (in-process hosts, unix sockets) are not counted.</para>
/// </summary>
public sealed class AuthFailureThrottle(ControllerOptions options, TimeProvider time)
{
    public const int MaxAddresses = 100_000;

    private readonly ConcurrentDictionary<IPAddress, Bucket> _buckets = new();
    private readonly Lock _sweep = new();

    private int Capacity => options.TenantLimits.AuthFailuresPerMinute;

    /// <summary>Addresses tracked now (for tests and metrics).</summary>
    public int Tracked => _buckets.Count;

    /// <summary>How long the address must wait before its next attempt, or null when it may try now.</summary>
    public TimeSpan? RetryAfter(IPAddress? address)
    {
        if (Capacity == 0 || Key(address) is not { } key || !_buckets.TryGetValue(key, out var bucket)) return null;
        lock (bucket)
        {
            Refill(bucket);
            if (bucket.Tokens >= 1) return null;
            return TimeSpan.FromMinutes((1 - bucket.Tokens) / Capacity);
        }
    }

    /// <summary>A request from the address failed to authenticate.</summary>
    public void Failed(IPAddress? address)
    {
        if (Capacity == 0 || Key(address) is not { } key) return;
        if (!_buckets.TryGetValue(key, out var bucket))
        {
            if (_buckets.Count >= MaxAddresses) Sweep();
            bucket = _buckets.GetOrAdd(key, _ => new Bucket { Tokens = Capacity, Updated = time.GetTimestamp() });
        }
        lock (bucket)
        {
            Refill(bucket);
            bucket.Tokens = Math.Max(0, bucket.Tokens - 1);
        }
    }

    private void Refill(Bucket bucket)
    {
        var now = time.GetTimestamp();
        var minutes = time.GetElapsedTime(bucket.Updated, now).TotalMinutes;
        bucket.Tokens = Math.Min(Capacity, bucket.Tokens + minutes * Capacity);
        bucket.Updated = now;
    }

    private void Sweep()
    {
        lock (_sweep)
        {
            if (_buckets.Count < MaxAddresses) return;
            foreach (var (key, bucket) in _buckets)
            {
                lock (bucket)
                {
                    Refill(bucket);
                    if (bucket.Tokens >= Capacity) _buckets.TryRemove(key, out _);
                }
            }
            // Still full of live buckets: many addresses guessing at once. Forget some rather than grow.
            var excess = _buckets.Count - MaxAddresses / 2;
            foreach (var key in _buckets.Keys)
            {
                if (excess-- <= 0) break;
                _buckets.TryRemove(key, out _);
            }
        }
    }

    private static IPAddress? Key(IPAddress? address)
    {
        if (address is null) return null;
        if (address.IsIPv4MappedToIPv6) return address.MapToIPv4();
        if (address.AddressFamily != AddressFamily.InterNetworkV6) return address;
        var bytes = address.GetAddressBytes();
        Array.Clear(bytes, 8, 8);
        return new IPAddress(bytes);
    }

    private sealed class Bucket
    {
        public double Tokens;
        public long Updated;
    }
}
