using Jobplane.Api;
using Npgsql;

namespace Jobplane.Store;

public sealed partial class ExecutionStore
{
    /// <summary>
    /// Cancels one execution. Queued, scheduled and retry-waiting executions end CANCELLED at once and
    /// never run; a running one is marked, its worker stops it at the next heartbeat, and it ends
    /// CANCELLED when the worker reports (or its lease expires). Null when not the tenant's;
    /// conflict when it already finished.
    /// </summary>
    public async Task<CancelOutcome?> CancelAsync(Guid tenantId, Guid executionId, CancellationToken ct)
    {
        await using var conn = await db.OpenConnectionAsync(ct);
        await using var tx = await conn.BeginTransactionAsync(ct);
        var unfinished = await LockForCancelAsync(conn, tx, """
            delete from ready_queue where execution_id = $1 and tenant_id = $2
            """, "id = $1 and tenant_id = $2", ct, Sql.P(executionId), Sql.P(tenantId));
        if (unfinished.Count == 0)
        {
            await using var cmd = conn.Command("select status from executions where id = $1 and tenant_id = $2", tx,
                Sql.P(executionId), Sql.P(tenantId));
            if (await cmd.ExecuteScalarAsync(ct) is not string status) return null;
            // Its cancel was already recorded; its worker is stopping it.
            if (status == ExecutionStatus.Running) return new CancelOutcome(executionId, ExecutionStatus.Running, CancelRequested: true);
            throw new StoreConflictException($"execution {executionId} already finished ({status}); there is nothing to cancel");
        }
        await TransitionWriter.ApplyAsync(conn, tx, unfinished, ct);
        await tx.CommitAsync(ct);
        var running = unfinished[0].Decision.CancelRequestOnly;
        return new CancelOutcome(executionId, running ? ExecutionStatus.Running : ExecutionStatus.Cancelled, CancelRequested: true);
    }

    /// <summary>How many executions one transaction of a job cancel takes at most.</summary>
    public const int JobCancelChunk = 2_000;

    /// <summary>
    /// Cancels every unfinished execution of a job; null when the job is not the tenant's. A job can
    /// hold a backlog of any size, so the cancel walks it newest first in chunks of
    /// <paramref name="chunk"/>, each its own transaction: every statement stays far inside the
    /// tenant's statement timeout whatever the backlog, and a cancel cut off half way has committed
    /// what it did (repeating it finishes the rest; nothing is cancelled twice).
    /// </summary>
    public async Task<JobCancelOutcome?> CancelJobAsync(Guid tenantId, Guid jobId, CancellationToken ct, int chunk = JobCancelChunk)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(chunk, 1);
        await using var conn = await db.OpenConnectionAsync(ct);
        await using (var cmd = conn.Command("select 1 from jobs where id = $1 and tenant_id = $2", null, Sql.P(jobId), Sql.P(tenantId)))
        {
            if (await cmd.ExecuteScalarAsync(ct) is null) return null;
        }
        var (cancelled, stopping) = (0, 0);
        (DateTimeOffset CreatedAt, Guid Id)? after = null;
        while (true)
        {
            // The next chunk, read without locks along the job's index; the lock below re-checks each row.
            var ids = new List<Guid>(chunk);
            await using (var cmd = conn.Command(after is null ? JobChunkSql : JobChunkAfterSql, null,
                             Sql.P(jobId), Sql.P(tenantId), Sql.P(chunk), Sql.P(after?.CreatedAt), Sql.P(after?.Id)))
            await using (var reader = await cmd.ExecuteReaderAsync(ct))
            {
                while (await reader.ReadAsync(ct))
                {
                    ids.Add(reader.GetGuid(0));
                    after = (reader.GetTimestamp(1), ids[^1]);
                }
            }
            if (ids.Count == 0) break;
            await using (var tx = await conn.BeginTransactionAsync(ct))
            {
                var unfinished = await LockForCancelAsync(conn, tx, """
                    delete from ready_queue where execution_id = any($1) and tenant_id = $2
                    """, "id = any($1) and tenant_id = $2", ct, Sql.P(ids.ToArray()), Sql.P(tenantId));
                await TransitionWriter.ApplyAsync(conn, tx, unfinished, ct);
                await tx.CommitAsync(ct);
                var requested = unfinished.Count(t => t.Decision.CancelRequestOnly);
                (cancelled, stopping) = (cancelled + unfinished.Count - requested, stopping + requested);
            }
            if (ids.Count < chunk) break;
        }
        return new JobCancelOutcome(cancelled, stopping);
    }

    private const string JobChunkFilter = $"""
        job_id = $1 and tenant_id = $2
          and status in ('{ExecutionStatus.Pending}', '{ExecutionStatus.Scheduled}', '{ExecutionStatus.Retrying}', '{ExecutionStatus.Running}')
          and (status <> '{ExecutionStatus.Running}' or cancel_requested_at is null)
        """;

    // Parameters $4 and $5 (the cursor) are typed in both texts so that one parameter list serves both.
    private const string JobChunkSql = $"""
        select id, created_at from executions
        where {JobChunkFilter} and $4::timestamptz is null and $5::uuid is null
        order by created_at desc, id desc
        limit $3
        """;

    private const string JobChunkAfterSql = $"""
        select id, created_at from executions
        where {JobChunkFilter} and (created_at, id) < ($4::timestamptz, $5::uuid)
        order by created_at desc, id desc
        limit $3
        """;

    /// <summary>
    /// Takes the ready-queue rows out first (<paramref name="dequeue"/>), then locks the unfinished
    /// executions <paramref name="where"/> selects, in id order: the same lock order as a claim, so a
    /// cancel racing a claim waits for it instead of deadlocking with it. Returns each one's cancel.
    /// </summary>
    internal static async Task<List<Transition>> LockForCancelAsync(NpgsqlConnection conn, NpgsqlTransaction tx, string dequeue,
        string where, CancellationToken ct, params NpgsqlParameter[] parameters)
    {
        await using (var cmd = conn.Command(dequeue, tx, parameters))
        {
            await cmd.ExecuteNonQueryAsync(ct);
        }
        var list = new List<Transition>();
        await using var select = conn.Command($"""
            select id, status, attempt, worker_id from executions
            where {where} and status in ('{ExecutionStatus.Pending}', '{ExecutionStatus.Scheduled}', '{ExecutionStatus.Retrying}', '{ExecutionStatus.Running}')
              -- A running execution whose cancel is already recorded has nothing left to change: a
              -- repeated cancel writes no second event (a tenant repeating it cannot grow the table).
              and (status <> '{ExecutionStatus.Running}' or cancel_requested_at is null)
            order by id
            for update
            """, tx, [.. parameters.Select(p => p.Clone())]);
        await using var reader = await select.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
        {
            var (status, attempt) = (reader.GetString(1), reader.GetInt32(2));
            var decision = ExecutionTransitions.Decide(new ExecutionState(status), new ExecutionEvent(EventKind.Cancelled));
            list.Add(new Transition(reader.GetGuid(0), decision, attempt, reader.GetStringOrNull(3))
            {
                Error = decision.CancelRequestOnly ? null : attempt > 0 ? "cancelled before it ran again" : "cancelled before it ran",
            });
        }
        return list;
    }
}
