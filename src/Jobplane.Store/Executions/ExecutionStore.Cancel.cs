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

    /// <summary>Cancels every unfinished execution of a job; null when the job is not the tenant's.</summary>
    public async Task<JobCancelOutcome?> CancelJobAsync(Guid tenantId, Guid jobId, CancellationToken ct)
    {
        await using var conn = await db.OpenConnectionAsync(ct);
        await using var tx = await conn.BeginTransactionAsync(ct);
        await using (var cmd = conn.Command("select 1 from jobs where id = $1 and tenant_id = $2", tx, Sql.P(jobId), Sql.P(tenantId)))
        {
            if (await cmd.ExecuteScalarAsync(ct) is null) return null;
        }
        var unfinished = await LockForCancelAsync(conn, tx, """
            delete from ready_queue q using executions e
            where q.execution_id = e.id and e.job_id = $1 and e.tenant_id = $2
            """, "job_id = $1 and tenant_id = $2", ct, Sql.P(jobId), Sql.P(tenantId));
        await TransitionWriter.ApplyAsync(conn, tx, unfinished, ct);
        await tx.CommitAsync(ct);
        var stopping = unfinished.Count(t => t.Decision.CancelRequestOnly);
        return new JobCancelOutcome(unfinished.Count - stopping, stopping);
    }

    /// <summary>
    /// Takes the ready-queue rows out first (<paramref name="dequeue"/>), then locks the unfinished
    /// executions <paramref name="where"/> selects, in id order: the same lock order as a claim, so a
    /// cancel racing a claim waits for it instead of deadlocking with it. Returns each one's cancel.
    /// </summary>
    private static async Task<List<Transition>> LockForCancelAsync(NpgsqlConnection conn, NpgsqlTransaction tx, string dequeue,
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
