using Jobplane.Api;
using Npgsql;

namespace Jobplane.Store;

/// <summary>How many executions wait or run, per tenant, priority and state, and how long the oldest ready one has waited.</summary>
public sealed record QueueSnapshot(
    IReadOnlyList<QueueSnapshot.Depth> Depths,
    IReadOnlyList<QueueSnapshot.OldestReady> Oldest,
    IReadOnlyList<QueueSnapshot.DeadLetters> Dlq)
{
    /// <summary>State: ready, scheduled, retrying or running.</summary>
    public readonly record struct Depth(Guid TenantId, int Priority, string State, long Count);

    /// <summary>Seconds since the tenant's oldest ready execution became due, by the database clock.</summary>
    public readonly record struct OldestReady(Guid TenantId, double AgeSeconds);

    public readonly record struct DeadLetters(Guid TenantId, long Count);
}

/// <summary>
/// The figures behind the queue gauges, read in one round trip. Never a count(*) over the whole
/// executions table: each part reads only the rows it counts, through the index that holds them.
/// <para>Cost, per call: ready work, a pass over the narrow ready_queue (only what is ready now;
/// ready_queue_tenant_claim_idx already holds it in tenant and priority order); scheduled and
/// retrying work, through the partial executions_due_at_idx; running work, through the open
/// attempts (execution_attempts_open_idx) and each one's execution for its priority; dead letters, through the partial dead_letters_tenant_idx
/// (unretried entries only). So it grows with the work waiting or running and the unretried DLQ,
/// never with the history. Callers run it on a timer and cache the answer between scrapes.</para>
/// </summary>
public sealed class QueueStatsStore(NpgsqlDataSource db)
{
    public async Task<QueueSnapshot> ReadAsync(CancellationToken ct)
    {
        await using var conn = await db.OpenConnectionAsync(ct);
        await using var batch = new NpgsqlBatch(conn);
        batch.BatchCommands.Add(new NpgsqlBatchCommand("""
            select tenant_id, priority, count(*), extract(epoch from now() - min(ready_at))::float8
            from ready_queue
            group by tenant_id, priority
            """));
        // Two arms, so each reads one partial index: waiting rows by due_at, running ones by their open attempt.
        batch.BatchCommands.Add(new NpgsqlBatchCommand("""
            select tenant_id, priority, lower(status), count(*)
            from executions where due_at is not null
            group by tenant_id, priority, status
            union all
            select a.tenant_id, e.priority, 'running', count(*)
            from execution_attempts a join executions e on e.id = a.execution_id
            where a.ended_at is null
            group by a.tenant_id, e.priority
            """));
        batch.BatchCommands.Add(new NpgsqlBatchCommand("""
            select tenant_id, count(*) from dead_letters where retried_execution_id is null group by tenant_id
            """));
        await using var reader = await batch.ExecuteReaderAsync(ct);
        var depths = new List<QueueSnapshot.Depth>();
        var oldest = new Dictionary<Guid, double>();
        while (await reader.ReadAsync(ct))
        {
            var tenant = reader.GetGuid(0);
            depths.Add(new QueueSnapshot.Depth(tenant, reader.GetInt16(1), "ready", reader.GetInt64(2)));
            var age = Math.Max(0, reader.GetDouble(3));
            oldest[tenant] = oldest.TryGetValue(tenant, out var seen) ? Math.Max(seen, age) : age;
        }
        await reader.NextResultAsync(ct);
        while (await reader.ReadAsync(ct))
            depths.Add(new QueueSnapshot.Depth(reader.GetGuid(0), reader.GetInt16(1), reader.GetString(2), reader.GetInt64(3)));
        await reader.NextResultAsync(ct);
        var dlq = new List<QueueSnapshot.DeadLetters>();
        while (await reader.ReadAsync(ct)) dlq.Add(new QueueSnapshot.DeadLetters(reader.GetGuid(0), reader.GetInt64(1)));
        return new QueueSnapshot(depths, [.. oldest.Select(o => new QueueSnapshot.OldestReady(o.Key, o.Value))], dlq);
    }
}
