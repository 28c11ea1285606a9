using Jobplane.Api;
using Npgsql;

namespace Jobplane.Store;

public sealed partial class ExecutionStore
{
    /// <summary>Unretried dead letters, newest first by (failed_at, id) descending; served by dead_letters_tenant_idx.</summary>
    public async Task<Page<DeadLetterRecord>> ListDeadLettersPageAsync(Guid tenantId, PageRequest page, CancellationToken ct)
    {
        List<NpgsqlParameter> ps = [Sql.P(tenantId), Sql.P(page.Limit + 1), Sql.P(page.Offset)];
        var after = Paging.After(page, ps, "d.failed_at", "d.id", newestFirst: true);
        await using var cmd = db.Command($"""
            select d.id, d.execution_id, d.job_id, j.name, e.priority, d.error_message, d.attempts, d.failed_at
            from dead_letters d
            join executions e on e.id = d.execution_id
            join jobs j on j.id = d.job_id
            where d.tenant_id = $1 and d.retried_execution_id is null and {after}
            order by d.failed_at desc, d.id desc limit $2 offset $3
            """, [.. ps]);
        return await Paging.ReadAsync(cmd, page.Limit, reader => new DeadLetterRecord(reader.GetGuid(0), reader.GetGuid(1), reader.GetGuid(2), reader.GetString(3),
            new Priority(reader.GetInt16(4)), reader.GetString(5), reader.GetInt32(6), reader.GetTimestamp(7)), ct);
    }

    /// <summary>
    /// Re-runs a dead-lettered execution as a new execution of the same job with the same priority and
    /// timeout; the failed one keeps its history. <paramref name="id"/> may be the dead letter's id or the
    /// execution's. Null when not found; conflict when it was already retried.
    /// </summary>
    public async Task<Guid?> RetryDeadLetterAsync(Guid tenantId, Guid id, CancellationToken ct, string? traceParent = null)
    {
        await using var conn = await db.OpenConnectionAsync(ct);
        await using var tx = await conn.BeginTransactionAsync(ct);
        Guid dlqId, jobId;
        Guid? retriedAs;
        int priority, timeout;
        await using (var cmd = conn.Command("""
            select d.id, d.job_id, d.retried_execution_id, e.priority, e.timeout_seconds
            from dead_letters d join executions e on e.id = d.execution_id
            where (d.id = $1 or d.execution_id = $1) and d.tenant_id = $2
            for update of d
            """, tx, Sql.P(id), Sql.P(tenantId)))
        await using (var reader = await cmd.ExecuteReaderAsync(ct))
        {
            if (!await reader.ReadAsync(ct)) return null;
            dlqId = reader.GetGuid(0);
            jobId = reader.GetGuid(1);
            retriedAs = reader.IsDBNull(2) ? null : reader.GetGuid(2);
            priority = reader.GetInt16(3);
            timeout = reader.GetInt32(4);
        }
        if (retriedAs is { } previous)
            throw new StoreConflictException($"this dead letter was already retried as execution {previous}");

        var newId = Guid.CreateVersion7();
        await using (var cmd = conn.Command(SubmitSql, tx, Sql.P(newId), Sql.P(jobId), Sql.P(tenantId),
                         Sql.P((DateTimeOffset?)null), Sql.P((int?)priority), Sql.P((int?)timeout), Sql.P((string?)null), Sql.P(traceParent),
                         Sql.P((Guid?)null), Sql.P(EventKind.RetriedFromDlq.Word())))
        {
            await cmd.ExecuteNonQueryAsync(ct);
        }
        await using (var cmd = conn.Command("update dead_letters set retried_execution_id = $2 where id = $1", tx,
                         Sql.P(dlqId), Sql.P(newId)))
        {
            await cmd.ExecuteNonQueryAsync(ct);
        }
        await tx.CommitAsync(ct);
        return newId;
    }

    /// <summary>
    /// Re-runs every unretried dead letter of the tenant (or of one job) as new executions, in one
    /// statement; entries being retried concurrently by another request are skipped, not doubled.
    /// With <paramref name="onlyJobs"/>, only those jobs' dead letters: the ones whose images were
    /// checked, so a dead letter of another job arriving meanwhile waits for the next retry. With
    /// <paramref name="onlyIds"/>, only those dead letters (a selection). With <paramref name="audit"/>,
    /// the same statement records the retry in the audit log with the number retried.
    /// </summary>
    public async Task<RetriedDeadLetters> RetryDeadLettersAsync(Guid tenantId, Guid? jobId, int max, CancellationToken ct, string? traceParent = null,
        IReadOnlyList<Guid>? onlyJobs = null, IReadOnlyList<Guid>? onlyIds = null, BulkAudit? audit = null)
    {
        await using var cmd = db.Command($"""
            with picked as (
                select d.id, d.job_id, e.priority, e.timeout_seconds
                from dead_letters d join executions e on e.id = d.execution_id
                where d.tenant_id = $1 and d.retried_execution_id is null and ($2::uuid is null or d.job_id = $2)
                  and ($5::uuid[] is null or d.job_id = any($5))
                  and ($7::uuid[] is null or d.id = any($7))
                order by d.failed_at
                limit $3
                for update of d skip locked
            ), fresh as materialized (
                select p.*, gen_random_uuid() as new_id from picked p
            ), made as (
                {TransitionWriter.InsertExecutions}
                select f.new_id, $1, f.job_id, '{ExecutionStatus.Pending}', f.priority, f.timeout_seconds, j.max_attempts, now(), $4
                from fresh f join jobs j on j.id = f.job_id
                {TransitionWriter.CreatedColumns}
            ), {TransitionWriter.Created("made", "$6::text")}, marked as (
                update dead_letters d set retried_execution_id = f.new_id from fresh f where d.id = f.id
            ), audit as (
                {BulkAuditSql("$8", "$9", "$10", "$1", "(select count(*) from fresh)")}
            )
            select new_id from fresh
            """, Sql.P(tenantId), Sql.P(jobId), Sql.P(max), Sql.P(traceParent), Sql.P(onlyJobs?.ToArray()),
            Sql.P(EventKind.RetriedFromDlq.Word()), Sql.P(onlyIds?.ToArray()), Sql.P(audit?.Actor), Sql.P(audit?.Action), Sql.Json(audit?.FilterJson));
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        var ids = new List<Guid>();
        while (await reader.ReadAsync(ct)) ids.Add(reader.GetGuid(0));
        return new RetriedDeadLetters(ids.Count, ids);
    }

    /// <summary>
    /// Removes the tenant's unretried dead letters (or one job's); the executions keep their history.
    /// With <paramref name="audit"/>, the same statement records the purge in the audit log with the number removed.
    /// </summary>
    public async Task<int> PurgeDeadLettersAsync(Guid tenantId, Guid? jobId, CancellationToken ct, BulkAudit? audit = null)
    {
        await using var cmd = db.Command($"""
            with gone as (
                delete from dead_letters
                where tenant_id = $1 and retried_execution_id is null and ($2::uuid is null or job_id = $2)
                returning 1
            ), audit as (
                {BulkAuditSql("$3", "$4", "$5", "$1", "(select count(*) from gone)")}
            )
            select count(*)::int from gone
            """, Sql.P(tenantId), Sql.P(jobId), Sql.P(audit?.Actor), Sql.P(audit?.Action), Sql.Json(audit?.FilterJson));
        return (int)(await cmd.ExecuteScalarAsync(ct))!;
    }

    /// <summary>
    /// The insert of a <see cref="BulkAudit"/> (its actor, action and filter in the named parameters;
    /// nothing when the actor is null or nothing changed), with the statement's count of changed rows added to the filter.
    /// </summary>
    private static string BulkAuditSql(string actor, string action, string filter, string tenant, string count) => $$"""
        insert into audit_log (actor, action, tenant_id, details)
        select {{actor}}::text, {{action}}::text, {{tenant}}, coalesce({{filter}}::jsonb, '{}'::jsonb) || jsonb_build_object('count', {{count}})
        where {{actor}}::text is not null and {{count}} > 0
        """;
}
