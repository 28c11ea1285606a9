using System.Collections.Concurrent;

namespace Jobplane.Controller.Logs;

/// <summary>
/// The followed log streams of this replica: who follows which execution, and how many streams each
/// tenant holds. One LISTEN connection (the queue's, see <see cref="Queue.ReadySignal"/>) receives
/// 'jobplane_execution' notifications, sent by the log append and when an execution finishes, and
/// wakes only the followers of that execution: no follower polls the database while nothing happens.
/// A notification is a hint: followers still re-read on a slow timer, so a lost one only delays.
/// </summary>
public sealed class LogFollowers(ControllerOptions options)
{
    private readonly ConcurrentDictionary<Guid, Waiters> _watches = new();
    private readonly ConcurrentDictionary<Guid, int> _streams = new();

    /// <summary>Followers woken by a notification so far (for tests: proves the notification path, not a timer, delivered).</summary>
    public long NotifiedWakeUps => Interlocked.Read(ref _notifiedWakeUps);
    private long _notifiedWakeUps;

    /// <summary>
    /// Takes one of the tenant's stream slots on this replica, or null when it holds its cap already:
    /// <paramref name="tenantMax"/>, the tenant's own (log_follow_max, read with its key), or else
    /// LOG_FOLLOW_MAX_PER_TENANT. Dispose the slot when the stream ends.
    /// </summary>
    public IDisposable? TryOpen(Guid tenantId, int? tenantMax = null)
    {
        var max = tenantMax ?? options.TenantLimits.LogFollowMaxPerTenant;
        while (true)
        {
            var current = _streams.GetOrAdd(tenantId, 0);
            if (current >= max) return null;
            if (_streams.TryUpdate(tenantId, current + 1, current)) return new Slot(this, tenantId);
        }
    }

    /// <summary>Streams the tenant holds open on this replica.</summary>
    public int OpenStreams(Guid tenantId) => _streams.TryGetValue(tenantId, out var n) ? n : 0;

    private void Close(Guid tenantId)
    {
        while (true)
        {
            var current = _streams[tenantId];
            if (current <= 1)
            {
                // Drop the entry so the map holds only tenants with open streams.
                if (_streams.TryRemove(new KeyValuePair<Guid, int>(tenantId, current))) return;
            }
            else if (_streams.TryUpdate(tenantId, current - 1, current)) return;
        }
    }

    /// <summary>Starts watching an execution; dispose to stop.</summary>
    public Subscription Watch(Guid executionId)
    {
        while (true)
        {
            var watch = _watches.GetOrAdd(executionId, _ => new Waiters());
            lock (watch)
            {
                // A watch emptied and removed meanwhile must not be joined: take a fresh one.
                if (watch.Removed) continue;
                watch.Count++;
                return new Subscription(this, executionId, watch);
            }
        }
    }

    private void Unwatch(Guid executionId, Waiters watch)
    {
        lock (watch)
        {
            if (--watch.Count > 0) return;
            watch.Removed = true;
            _watches.TryRemove(new KeyValuePair<Guid, Waiters>(executionId, watch));
        }
    }

    /// <summary>A 'jobplane_execution' notification arrived (on the LISTEN connection's thread).</summary>
    internal void Notified(string payload)
    {
        if (!Guid.TryParse(payload, out var executionId) || !_watches.TryGetValue(executionId, out var watch)) return;
        Interlocked.Increment(ref _notifiedWakeUps);
        watch.Wake();
    }

    /// <summary>The listener (re)connected: anything may have happened meanwhile, so every follower re-reads.</summary>
    internal void WakeAll()
    {
        foreach (var watch in _watches.Values) watch.Wake();
    }

    internal sealed class Waiters
    {
        private TaskCompletionSource _next = New();
        public int Count;
        public bool Removed;

        public Task Next => Volatile.Read(ref _next).Task;

        public void Wake() => Interlocked.Exchange(ref _next, New()).TrySetResult();

        private static TaskCompletionSource New() => new(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    /// <summary>One follower's interest in one execution.</summary>
    public sealed class Subscription : IDisposable
    {
        private readonly LogFollowers _owner;
        private readonly Guid _executionId;
        private readonly Waiters _watch;
        private int _disposed;

        internal Subscription(LogFollowers owner, Guid executionId, Waiters watch)
        {
            _owner = owner;
            _executionId = executionId;
            _watch = watch;
        }

        /// <summary>
        /// Completes at the next notification for the execution. Take it before reading the database,
        /// then await it after: a notification that arrives during the read is not missed.
        /// </summary>
        public Task Next => _watch.Next;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) == 0) _owner.Unwatch(_executionId, _watch);
        }
    }

    private sealed class Slot(LogFollowers owner, Guid tenantId) : IDisposable
    {
        private int _disposed;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) == 0) owner.Close(tenantId);
        }
    }
}
