using System.Collections.Concurrent;
using Jobplane.Store.Dashboard;

namespace Jobplane.Controller.Dashboard;

/// <summary>
/// The overview's activity figures, kept for a few seconds per viewer scope and range: a page left
/// open (or reloaded in a loop) reads the database at most once per <see cref="Freshness"/>, and
/// concurrent loads share one read.
/// </summary>
public sealed class ActivityCache(ActivityQueries queries, TimeProvider time)
{
    public static readonly TimeSpan Freshness = TimeSpan.FromSeconds(5);

    private readonly ConcurrentDictionary<(Guid?, TimeSpan), (long At, Task<Activity> Read)> _entries = new();

    public Task<Activity> GetAsync(Guid? tenantId, TimeSpan window, TimeSpan bucket)
    {
        var key = (tenantId, window);
        var now = time.GetTimestamp();
        if (_entries.TryGetValue(key, out var entry) && time.GetElapsedTime(entry.At, now) < Freshness && !entry.Read.IsFaulted)
            return entry.Read;
        // Bounded: one entry per tenant and range; a controller with very many tenants starts over.
        if (_entries.Count > 10_000) _entries.Clear();
        var read = queries.ReadAsync(tenantId, window, bucket, CancellationToken.None);
        _entries[key] = (now, read);
        return read;
    }
}
