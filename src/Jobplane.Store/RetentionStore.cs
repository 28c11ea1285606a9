using Jobplane.Api;
using Npgsql;

namespace Jobplane.Store;

/// <summary>
/// How long finished work is kept; null keeps that class forever. A tenant's retention_days, when
/// set, replaces <see cref="Executions"/> and <see cref="DeadLetters"/> for that tenant (also where
/// they are null); the audit log has no owner to override it.
/// </summary>
public sealed record RetentionPolicy(TimeSpan? Executions, TimeSpan? DeadLetters, TimeSpan? Audit)
{
    public static readonly RetentionPolicy KeepEverything = new(null, null, null);
}

/// <summary>
/// Deletes what has outlived its retention, one small batch per call, each in its own short
/// transaction: finished executions (their logs, attempts and idempotency keys go with them through
/// the foreign keys), dead letters and audit records. Age is judged by the database clock (now()).
/// Rows are picked FOR UPDATE SKIP LOCKED, so every controller replica can run it at once, each
/// deleting different rows, and nothing waits on a row another transaction holds.
/// <para>A dead letter never points to a deleted execution: a FAILED execution is kept for the longer
/// of the two retentions (its dead letter was written in the same transaction that finished it, so
/// failed_at equals completed_at and the dead letter always goes first), and an execution that still
/// has a dead letter is never deleted, whatever its age.</para>
/// </summary>
public sealed class RetentionStore(NpgsqlDataSource db)
{
    // Cutoffs per tenant. $1, $2: the operator's retention of executions and dead letters in seconds,
    // null for "keep". retention_days replaces both. A null cutoff compares as unknown: nothing is old.
    private const string ExecutionKeep = "coalesce(make_interval(days => t.retention_days), make_interval(secs => $1))";
    private const string DeadLetterKeep = "coalesce(make_interval(days => t.retention_days), make_interval(secs => $2))";

    /// <summary>
    /// Deletes up to <paramref name="batchSize"/> finished executions older than their tenant's
    /// retention (by completed_at), with their logs and attempts. Never an unfinished one: only
    /// SUCCEEDED, FAILED and CANCELLED rows are in the index the delete walks.
    /// <para>Cost: per tenant, up to three range scans of executions_finished_at_idx (one per final
    /// status), oldest first, each ending at the tenant's cutoff, so a tenant with nothing old costs
    /// three index probes; the walk over tenants stops once a batch is found. The foreign keys
    /// then delete each execution's logs (execution_logs_execution_idx), attempts (their primary key)
    /// and idempotency keys (idempotency_keys_execution_idx).</para>
    /// </summary>
    public async Task<int> DeleteExecutionsAsync(RetentionPolicy policy, int batchSize, CancellationToken ct)
    {
        return await DeleteAsync($"""
            with cut as (
                select t.id,
                       now() - {ExecutionKeep} as done,
                       -- The longer of the two: a FAILED execution outlives its dead letter, never the reverse.
                       case when {ExecutionKeep} is not null and {DeadLetterKeep} is not null then now() - greatest({ExecutionKeep}, {DeadLetterKeep}) end as failed
                from tenants t
            )
            -- The ids as an array: the delete then probes the primary key for each, where a join
            -- with a CTE, whose size the planner cannot see, may be planned as a scan of the table.
            delete from executions e where e.id = any(array(
                select x.id
                from cut
                cross join lateral (values ('{ExecutionStatus.Succeeded}', cut.done), ('{ExecutionStatus.Cancelled}', cut.done), ('{ExecutionStatus.Failed}', cut.failed)) k(status, cutoff)
                cross join lateral (
                    select e.id from executions e
                    -- finished_status and finished_at: the generated columns the index holds (the
                    -- status and completed_at of a finished execution, null before).
                    where e.tenant_id = cut.id and e.finished_at is not null
                      and e.finished_status = k.status and e.finished_at < k.cutoff
                      -- A FAILED row whose dead letter outlived its completion (written by hand) is
                      -- passed over until the dead letter is gone. A scalar subquery, probed per row
                      -- (dead_letters_execution_id_key): NOT EXISTS would become an anti join that
                      -- reads every old row of the tenant before the limit applies.
                      and (select d.id from dead_letters d where d.execution_id = e.id) is null
                    order by e.finished_at
                    limit $3
                    for update of e skip locked
                ) x
                limit $3))
            """, ct, Sql.P(Seconds(policy.Executions)), Sql.P(Seconds(policy.DeadLetters)), Sql.P(batchSize));
    }

    /// <summary>
    /// Deletes up to <paramref name="batchSize"/> dead letters (retried or not) older than their
    /// tenant's retention, by failed_at. Their executions stay until the executions' own retention.
    /// <para>Cost: per tenant, one range scan of dead_letters_failed_idx up to the cutoff.</para>
    /// </summary>
    public async Task<int> DeleteDeadLettersAsync(RetentionPolicy policy, int batchSize, CancellationToken ct)
    {
        return await DeleteAsync($"""
            delete from dead_letters x where x.id = any(array(
                select d.id
                from tenants t
                cross join lateral (
                    select d.id from dead_letters d
                    where d.tenant_id = t.id and d.failed_at < now() - {DeadLetterKeep}
                    order by d.failed_at
                    limit $3
                    for update of d skip locked
                ) d
                limit $3))
            """, ct, Sql.P(Seconds(policy.Executions)), Sql.P(Seconds(policy.DeadLetters)), Sql.P(batchSize));
    }

    /// <summary>
    /// Deletes up to <paramref name="batchSize"/> of the oldest audit records older than the audit
    /// retention; nothing when it is null. Served by audit_log_at_idx.
    /// </summary>
    public async Task<int> DeleteAuditAsync(RetentionPolicy policy, int batchSize, CancellationToken ct)
    {
        if (policy.Audit is not { } keep) return 0;
        return await DeleteAsync("""
            delete from audit_log a where a.id = any(array(
                select id from audit_log
                where at < now() - make_interval(secs => $1)
                order by at
                limit $2
                for update skip locked))
            """, ct, Sql.P(keep.TotalSeconds), Sql.P(batchSize));
    }

    /// <summary>What one round of retention deleted, and whether it stopped with old rows left.</summary>
    public readonly record struct RoundResult(int Executions, int DeadLetters, int Audit, bool Behind);

    /// <summary>
    /// One round, as the maintenance loop runs it: batch after batch (dead letters first, since a
    /// FAILED execution becomes deletable only once its dead letter is gone) while batches come back
    /// full, for at most <paramref name="budget"/> (always at least one of each). Retention shares the
    /// database with claims and submissions: a backlog is worked off at the pace the budget allows,
    /// a round per maintenance tick, rather than as fast as the database would delete it.
    /// </summary>
    public async Task<RoundResult> DeleteRoundAsync(RetentionPolicy policy, int batchSize, TimeSpan budget, TimeProvider time, CancellationToken ct)
    {
        var started = time.GetTimestamp();
        int executions = 0, deadLetters = 0, audit = 0;
        bool full;
        do
        {
            var d = await DeleteDeadLettersAsync(policy, batchSize, ct);
            var e = await DeleteExecutionsAsync(policy, batchSize, ct);
            var a = await DeleteAuditAsync(policy, batchSize, ct);
            deadLetters += d; executions += e; audit += a;
            full = d == batchSize || e == batchSize || a == batchSize;
        } while (full && time.GetElapsedTime(started) < budget);
        return new RoundResult(executions, deadLetters, audit, full);
    }

    /// <summary>
    /// One delete in a transaction of its own, planned as a walk of its index in age order that stops
    /// at the batch. The planner cannot see how many rows a tenant's cutoff passes (it is computed
    /// per tenant inside the statement) and, when completion order and heap order differ, would
    /// rather collect every old row of the tenant (bitmap scan) and sort them: a batch would then
    /// cost time in proportion to the whole backlog, and deleting it in proportion to its square.
    /// </summary>
    private async Task<int> DeleteAsync(string sql, CancellationToken ct, params NpgsqlParameter[] parameters)
    {
        await using var conn = await db.OpenConnectionAsync(ct);
        await using var tx = await conn.BeginTransactionAsync(ct);
        await using var batch = new NpgsqlBatch(conn, tx);
        batch.BatchCommands.Add(new NpgsqlBatchCommand("set local enable_bitmapscan = off"));
        batch.BatchCommands.Add(new NpgsqlBatchCommand("set local enable_sort = off"));
        var delete = Sql.BatchCommand(sql, parameters);
        batch.BatchCommands.Add(delete);
        await batch.ExecuteNonQueryAsync(ct);
        await tx.CommitAsync(ct);
        return delete.RecordsAffected;
    }

    private static double? Seconds(TimeSpan? keep) => keep?.TotalSeconds;
}
