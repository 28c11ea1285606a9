using System.Collections.Concurrent;
using Jobplane.Store;

namespace Jobplane.Controller.RateLimiting;

/// <summary>The answer to one request's rate check.</summary>
public readonly record struct RateDecision(bool Allowed, TimeSpan RetryAfter, int Remaining, TimeSpan Reset);

/// <summary>
/// Per-tenant request rate limits that hold however many controller replicas run. The tenant's
/// token bucket lives in PostgreSQL (<see cref="RateBucketStore"/>); each replica takes tokens from it
/// in small chunks and spends them locally, so the accepted rate across all replicas never exceeds
/// what the shared bucket dispensed: burst + rate × time. Tokens a replica took but did not spend
/// within <see cref="ChunkLifetime"/> are dropped, which can only make the limit stricter.
/// <para>Cost: a database round trip per chunk, not per request. A chunk is 1/20 s worth of the
/// tenant's rate (at least 1, at most the burst), so a replica takes at most ~20 chunks a second per
/// busy tenant. Once the shared bucket is empty, a replica refuses locally until the next token is
/// due, so a client hammering a limited tenant costs no database work for its refused requests.</para>
/// </summary>
public sealed class TenantRateLimiter(RateBucketStore store, TimeProvider time)
{
    public static readonly TimeSpan ChunkLifetime = TimeSpan.FromSeconds(1);
    private const double ChunkSeconds = 0.05;

    private readonly ConcurrentDictionary<Guid, Bucket> _buckets = new();

    public async ValueTask<RateDecision> AcquireAsync(Guid tenantId, double rate, int burst, CancellationToken ct)
    {
        var bucket = _buckets.GetOrAdd(tenantId, _ => new Bucket());
        while (true)
        {
            Task<TokenGrant> refill;
            lock (bucket)
            {
                var now = time.GetUtcNow();
                if (bucket.Tokens > 0 && now < bucket.TokensExpireAt)
                {
                    bucket.Tokens--;
                    return new RateDecision(true, TimeSpan.Zero, Remaining(bucket), Reset(bucket, rate, burst));
                }
                if (now < bucket.BlockedUntil)
                    return new RateDecision(false, bucket.BlockedUntil - now, 0, Reset(bucket, rate, burst));
                if (bucket.Refill is null)
                {
                    var want = Math.Clamp((int)Math.Ceiling(rate * ChunkSeconds), 1, burst);
                    // Requests waiting for the same refill share it: ask for enough for all of them.
                    want = Math.Clamp(Math.Max(want, bucket.Waiting + 1), 1, burst);
                    bucket.Refill = TakeAsync(bucket, tenantId, rate, burst, want);
                }
                bucket.Waiting++;
                refill = bucket.Refill;
            }
            try
            {
                await refill.WaitAsync(ct);
            }
            finally
            {
                lock (bucket) bucket.Waiting--;
            }
        }
    }

    private async Task<TokenGrant> TakeAsync(Bucket bucket, Guid tenantId, double rate, int burst, int want)
    {
        // Always asynchronous, so the caller has stored this task before the finally below clears it.
        await Task.Yield();
        try
        {
            // Not the request's token: one request going away must not fail the refill others wait for.
            var grant = await store.TakeAsync(tenantId, rate, burst, want, CancellationToken.None);
            lock (bucket)
            {
                var now = time.GetUtcNow();
                bucket.Tokens = grant.Granted;
                bucket.TokensExpireAt = now + ChunkLifetime;
                bucket.SharedLeft = grant.Left;
                // Nothing granted: the next token is due when the shared bucket has refilled to one.
                if (grant.Granted == 0) bucket.BlockedUntil = now + TimeSpan.FromSeconds(Math.Max(1 - grant.Left, 0.001) / rate);
            }
            return grant;
        }
        finally
        {
            lock (bucket) bucket.Refill = null;
        }
    }

    private static int Remaining(Bucket b) => b.Tokens + (int)Math.Floor(Math.Max(b.SharedLeft, 0));

    // When the shared bucket would be full again, as last seen by this replica.
    private static TimeSpan Reset(Bucket b, double rate, int burst) =>
        TimeSpan.FromSeconds(Math.Max(0, burst - Remaining(b)) / rate);

    private sealed class Bucket
    {
        public int Tokens;
        public DateTimeOffset TokensExpireAt;
        public DateTimeOffset BlockedUntil;
        public double SharedLeft;
        public int Waiting;
        public Task<TokenGrant>? Refill;
    }
}
