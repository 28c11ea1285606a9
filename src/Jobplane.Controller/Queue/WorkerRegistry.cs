using System.Collections.Concurrent;
using Jobplane.Api;
using Jobplane.Store;

namespace Jobplane.Controller.Queue;

/// <summary>
/// Turns what a dequeuing worker announces into the grants its claim checks, and records the
/// announcement in the workers table at most once per <see cref="WriteInterval"/> per worker (or when
/// it changes). The throttle is this replica's memory only: each replica writes at that rate at most,
/// and nothing else depends on it.
/// </summary>
public sealed class WorkerRegistry(WorkerStore store, TimeProvider time)
{
    /// <summary>Well within <see cref="WorkerStore.Recent"/>, so a polling worker never looks gone.</summary>
    public static readonly TimeSpan WriteInterval = TimeSpan.FromSeconds(5);

    private readonly ConcurrentDictionary<string, (long At, string Key)> _written = new(StringComparer.Ordinal);

    /// <summary>Why the announcement cannot be used (naming the field), or null with the grants it gives.</summary>
    public static string? ToGrants(string? runtime, WorkerCapabilities? c, out WorkerGrants grants)
    {
        // No runtime named (a benchmarking or an older worker): any class, as before routing existed.
        var runtimeClasses = runtime is null ? null : new[] { RuntimeClasses.OfRuntime(runtime) };
        grants = new WorkerGrants { Classes = runtimeClasses };
        if (c is null) return null;
        if (c.RuntimeClasses is { } classes)
        {
            if (classes.Count is 0 or > 2) return "capabilities.runtime_classes must list exec and/or container";
            foreach (var k in classes)
            {
                if (k is null || !RuntimeClasses.Known.Contains(k))
                    return $"capabilities.runtime_classes entries must be exec or container (got '{k}')";
            }
            if (runtimeClasses is not null && !classes.All(runtimeClasses.Contains))
                return $"capabilities.runtime_classes must be {runtimeClasses[0]} for runtime {runtime} (got {string.Join(", ", classes)})";
            runtimeClasses = [.. classes.Distinct()];
        }
        if (c.MaxMemoryMib is { } m && m is < 6 or > 1024 * 1024)
            return "capabilities.max_memory_mib must be between 6 and 1048576";
        if (c.MaxCpus is { } cpu && (double.IsNaN(cpu) || cpu is < 0.01 or > 1024))
            return "capabilities.max_cpus must be between 0.01 and 1024";
        if (c.MaxPids is { } p && p is < 1 or > 1_000_000)
            return "capabilities.max_pids must be between 1 and 1000000";
        if (c.Slots is { } slots && slots is < 1 or > MaxSlots)
            return $"capabilities.slots must be between 1 and {MaxSlots} (got {slots})";
        grants = new WorkerGrants
        {
            Classes = runtimeClasses,
            Network = c.Network,
            RunAsRoot = c.RunAsRoot,
            MaxMemoryMib = c.MaxMemoryMib,
            MaxCpus = c.MaxCpus,
            MaxPids = c.MaxPids,
            Slots = c.Slots,
        };
        return null;
    }

    /// <summary>The longest worker version recorded (the bound of workers.version).</summary>
    public const int MaxVersionLength = 100;

    /// <summary>
    /// The version in a <c>jobplane-worker/&lt;version&gt;</c> product of a User-Agent header: at most
    /// <see cref="MaxVersionLength"/> characters of [0-9A-Za-z.+-]; null when there is none or it is
    /// anything else (the header is the client's to write, so nothing else of it is stored).
    /// </summary>
    public static string? VersionOf(string? userAgent)
    {
        if (string.IsNullOrEmpty(userAgent)) return null;
        const string product = Wire.WorkerProduct + "/";
        foreach (var part in userAgent.Split(' ', StringSplitOptions.RemoveEmptyEntries))
        {
            if (!part.StartsWith(product, StringComparison.Ordinal)) continue;
            var version = part[product.Length..];
            return version.Length is > 0 and <= MaxVersionLength
                && version.All(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '+' or '-') ? version : null;
        }
        return null;
    }

    /// <summary>The most slots one worker may announce (the bound of workers.slots).</summary>
    public const int MaxSlots = 100_000;

    private readonly ConcurrentDictionary<string, long> _touched = new(StringComparer.Ordinal);

    /// <summary>A heartbeat: the worker is still connected (busy, so not dequeuing); at most one write per interval per replica.</summary>
    public async Task StillConnectedAsync(string workerId, IReadOnlyCollection<Guid> heldExecutionIds, CancellationToken ct)
    {
        var now = time.GetTimestamp();
        if (_touched.TryGetValue(workerId, out var last) && time.GetElapsedTime(last, now) < WriteInterval) return;
        if (_touched.Count > 10_000) _touched.Clear();
        _touched[workerId] = now;
        await store.TouchAsync(workerId, heldExecutionIds, ct);
    }

    /// <summary>
    /// Records the worker as seen, unless this replica did so recently with the same announcement.
    /// <paramref name="version"/> is what <see cref="VersionOf"/> read from its User-Agent.
    /// </summary>
    public async Task SeenAsync(string workerId, string? runtime, WorkerGrants grants, Guid[]? tenantIds, string? version, CancellationToken ct)
    {
        // Everything written is in the key: a worker restarted with another WORKER_CONCURRENCY (or
        // another version) changes the fleet's slots at its next dequeue, not after the interval.
        var key = $"{runtime}|{string.Join(',', grants.Classes ?? [])}|{grants.Network}|{grants.RunAsRoot}|{grants.MaxMemoryMib}|{grants.MaxCpus}|{grants.MaxPids}|{grants.Slots}|{version}|"
            + (tenantIds is null ? "*" : string.Join(',', tenantIds));
        var now = time.GetTimestamp();
        if (_written.TryGetValue(workerId, out var last) && last.Key == key && time.GetElapsedTime(last.At, now) < WriteInterval) return;
        // Bounded: a controller serving many short-lived anonymous workers forgets old entries.
        if (_written.Count > 10_000) _written.Clear();
        _written[workerId] = (now, key);
        await store.UpsertAsync(workerId, runtime, grants, tenantIds, version, ct);
    }
}
