using Jobplane.Api;
using Npgsql;

namespace Jobplane.Store;

public sealed partial class QueueStore
{
    /// <summary>
    /// Marks tenants without ready work inactive, so claims stop visiting them. Under each tenant's
    /// exclusive advisory lock (skipping tenants whose work is being queued right now), and re-checked
    /// in a fresh snapshot after the locks are held, so ready work committed meanwhile keeps its
    /// tenant active. Safe from every replica at once.
    /// </summary>
    public async Task<int> DeactivateIdleTenantsAsync(CancellationToken ct)
    {
        await using var conn = await db.OpenConnectionAsync(ct);
        await using var tx = await conn.BeginTransactionAsync(ct);
        var locked = new List<Guid>();
        await using (var cmd = conn.Command("""
            select s.tenant_id from tenant_sched s
            where s.active and not exists (select 1 from ready_queue q where q.tenant_id = s.tenant_id)
            limit 1000
            """, tx))
        await using (var reader = await cmd.ExecuteReaderAsync(ct))
        {
            while (await reader.ReadAsync(ct)) locked.Add(reader.GetGuid(0));
        }
        if (locked.Count == 0) return 0;
        await using (var cmd = conn.Command("""
            select t from unnest($1::uuid[]) as t where pg_try_advisory_xact_lock($2, hashtext(t::text))
            """, tx, Sql.P(locked.ToArray()), Sql.P(LockKeys.Queue)))
        await using (var reader = await cmd.ExecuteReaderAsync(ct))
        {
            locked.Clear();
            while (await reader.ReadAsync(ct)) locked.Add(reader.GetGuid(0));
        }
        await using var update = conn.Command("""
            update tenant_sched s set active = false
            where s.tenant_id = any($1) and s.active
              and not exists (select 1 from ready_queue q where q.tenant_id = s.tenant_id)
            """, tx, Sql.P(locked.ToArray()));
        var n = await update.ExecuteNonQueryAsync(ct);
        await tx.CommitAsync(ct);
        return n;
    }

    /// <summary>
    /// Moves scheduled runs and retries whose time has come (by the database clock) into the ready
    /// queue; served by executions_due_at_idx (due_at: the due time of a SCHEDULED or RETRYING
    /// execution, null otherwise). Safe to run from every controller replica at once: rows
    /// another replica is promoting are skipped. One <see cref="TransitionWriter"/> statement, which
    /// locks the due rows itself: every due row gets the same decision, so it is decided once.
    /// </summary>
    public async Task<int> PromoteDueAsync(int batchSize, CancellationToken ct)
    {
        await using var cmd = db.Command(PromoteSql, Sql.P(batchSize));
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        var n = 0;
        while (await reader.ReadAsync(ct)) n++;
        return n;
    }

    private static readonly string PromoteSql = PromotionStatement();

    private static string PromotionStatement()
    {
        var promoted = ExecutionTransitions.Decide(new ExecutionState(ExecutionStatus.Scheduled), new ExecutionEvent(EventKind.Promoted));
        if (promoted != ExecutionTransitions.Decide(new ExecutionState(ExecutionStatus.Retrying), new ExecutionEvent(EventKind.Promoted)) with { From = promoted.From })
            throw new InvalidOperationException("a due scheduled run and a due retry are promoted alike");
        return TransitionWriter.Statement($"""
            select id, status, '{promoted.To}'::text, '{promoted.Kind.Word()}'::text, attempt, null::text, null::int, null::text,
                   null::text, null::text, 0::float8, {promoted.Queue}::boolean, null::uuid, false, null::text
            from executions
            where due_at <= now()
            order by due_at
            limit $1
            for update skip locked
            """);
    }

    /// <summary>
    /// Rescues executions whose lease expired (by the database clock). The running executions are
    /// their open attempts (execution_attempts_open_idx), so a pass reads each running execution's
    /// lease once: a cost bounded by the fleet's slots, never by the history. The lost attempt is recorded and counts against max_attempts, so a job that kills its worker
    /// cannot loop forever; the execution is ready again at once (at its original place in the queue,
    /// its due time: a worker's death should not cost its executions their turn), CANCELLED when a
    /// cancel was requested, or FAILED into the DLQ when no attempts remain. Set-based: one statement
    /// locks the batch, one <see cref="TransitionWriter"/> statement applies it. Returns how many were rescued.
    /// </summary>
    public async Task<int> RescueExpiredAsync(int batchSize, CancellationToken ct)
    {
        await using var conn = await db.OpenConnectionAsync(ct);
        await using var tx = await conn.BeginTransactionAsync(ct);
        var transitions = new List<Transition>();
        await using (var cmd = conn.Command($"""
            select e.id, e.attempt, e.attempt - e.free_attempts, e.max_attempts, e.worker_id, e.cancel_requested_at is not null
            from execution_attempts a
            join executions e on e.id = a.execution_id and e.attempt = a.attempt
            where a.ended_at is null and e.status = '{ExecutionStatus.Running}' and e.lease_expires_at < now()
            order by e.lease_expires_at
            limit $1
            for update of e skip locked
            """, tx, Sql.P(batchSize)))
        await using (var reader = await cmd.ExecuteReaderAsync(ct))
        {
            while (await reader.ReadAsync(ct))
            {
                var (attempt, worker) = (reader.GetInt32(1), reader.GetStringOrNull(4));
                var state = new ExecutionState(ExecutionStatus.Running, reader.GetInt32(2), reader.GetInt32(3), reader.GetBoolean(5));
                var decision = ExecutionTransitions.Decide(state, new ExecutionEvent(EventKind.Lost));
                var error = $"lease expired: worker {worker ?? "?"} stopped heartbeating during attempt {attempt}";
                transitions.Add(new Transition(reader.GetGuid(0), decision, attempt, worker)
                {
                    AttemptError = error,
                    Error = decision.To switch
                    {
                        ExecutionStatus.Cancelled => $"cancelled while running; {error}",
                        ExecutionStatus.Failed => $"{error}; no attempts left ({state.Charged} of {state.MaxAttempts})",
                        _ => error,
                    },
                });
            }
        }
        if (transitions.Count == 0) return 0;
        await TransitionWriter.ApplyAsync(conn, tx, transitions, ct);
        await tx.CommitAsync(ct);
        return transitions.Count;
    }

    /// <summary>Forgets idempotency keys older than 24 hours; served by idempotency_keys_created_idx.</summary>
    public async Task<int> ExpireIdempotencyKeysAsync(int batchSize, CancellationToken ct)
    {
        await using var cmd = db.Command("""
            delete from idempotency_keys where ctid in (
                select ctid from idempotency_keys where created_at < now() - interval '24 hours' limit $1)
            """, Sql.P(batchSize));
        return await cmd.ExecuteNonQueryAsync(ct);
    }
}
