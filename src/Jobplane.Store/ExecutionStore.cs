using System.Text.Json;
using Jobplane.Api;
using Npgsql;

namespace Jobplane.Store;

/// <summary>What a tenant asks of a run: all optional overrides of the job's defaults.</summary>
public sealed record RunOptions(DateTimeOffset? ScheduledAt, int? TimeoutSeconds, Priority? Priority);

/// <summary>Executions as tenants see them: submit, read, list, logs, dead letters. Scoped by tenant in SQL.</summary>
public sealed class ExecutionStore(NpgsqlDataSource db)
{
    private const string Columns = """
        e.id, e.job_id, j.name, e.status, e.priority, e.attempt, e.max_attempts, e.scheduled_at, e.created_at,
        e.started_at, e.completed_at, e.exit_code, e.error, e.result::text, e.timeout_seconds
        """;

    /// <summary>
    /// Creates an execution of the tenant's job in one statement: PENDING and in the ready queue
    /// when due (by the database clock), SCHEDULED otherwise. Null when the job is not the tenant's.
    /// </summary>
    public async Task<RunJobResponse?> RunAsync(Guid tenantId, Guid jobId, RunOptions options, CancellationToken ct)
    {
        await using var cmd = db.Command(SubmitSql,
            Sql.P(Guid.CreateVersion7()), Sql.P(jobId), Sql.P(tenantId), Sql.P(options.ScheduledAt),
            Sql.P(options.Priority?.Value), Sql.P(options.TimeoutSeconds));
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        return await reader.ReadAsync(ct) ? new RunJobResponse(reader.GetGuid(0), reader.GetString(1)) : null;
    }

    // $1 new id, $2 job, $3 tenant, $4 scheduled_at?, $5 priority?, $6 timeout?
    internal const string SubmitSql = """
        with job as (
            select id, tenant_id, priority, timeout_seconds, max_attempts
            from jobs where id = $2 and tenant_id = $3
        ), ins as (
            insert into executions (id, tenant_id, job_id, status, priority, timeout_seconds, max_attempts, scheduled_at)
            select $1, job.tenant_id, job.id,
                   case when coalesce($4, now()) <= now() then 'PENDING' else 'SCHEDULED' end,
                   coalesce($5, job.priority), coalesce($6, job.timeout_seconds), job.max_attempts,
                   greatest(coalesce($4, now()), now())
            from job
            returning id, tenant_id, priority, status, scheduled_at
        ), queued as (
            insert into ready_queue (execution_id, tenant_id, priority, ready_at)
            select id, tenant_id, priority, scheduled_at from ins where status = 'PENDING'
        )
        select id, status from ins
        """;

    public async Task<ExecutionView?> GetAsync(Guid tenantId, Guid executionId, CancellationToken ct)
    {
        ExecutionView? view;
        await using (var cmd = db.Command($"""
            select {Columns} from executions e join jobs j on j.id = e.job_id
            where e.id = $1 and e.tenant_id = $2
            """, Sql.P(executionId), Sql.P(tenantId)))
        await using (var reader = await cmd.ExecuteReaderAsync(ct))
        {
            view = await reader.ReadAsync(ct) ? Read(reader) : null;
        }
        if (view is null) return null;

        var attempts = new List<AttemptView>();
        await using (var cmd = db.Command("""
            select attempt, worker_id, started_at, ended_at, exit_code, error, outcome
            from execution_attempts where execution_id = $1 order by attempt
            """, Sql.P(executionId)))
        await using (var reader = await cmd.ExecuteReaderAsync(ct))
        {
            while (await reader.ReadAsync(ct))
            {
                attempts.Add(new AttemptView(reader.GetInt32(0), reader.GetString(1), reader.GetTimestamp(2),
                    reader.GetTimestampOrNull(3), reader.GetInt32OrNull(4), reader.GetStringOrNull(5), reader.GetStringOrNull(6)));
            }
        }
        return view with { Attempts = attempts };
    }

    /// <summary>Newest first; served by executions_job_created_idx or executions_tenant_created_idx.</summary>
    public async Task<IReadOnlyList<ExecutionView>> ListAsync(
        Guid tenantId, string? status, Guid? jobId, int limit, int offset, CancellationToken ct)
    {
        await using var cmd = db.Command($"""
            select {Columns} from executions e join jobs j on j.id = e.job_id
            where e.tenant_id = $1 and ($2::text is null or e.status = $2) and ($3::uuid is null or e.job_id = $3)
            order by e.created_at desc, e.id desc limit $4 offset $5
            """, Sql.P(tenantId), Sql.P(status), Sql.P(jobId), Sql.P(limit), Sql.P(offset));
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        var list = new List<ExecutionView>();
        while (await reader.ReadAsync(ct)) list.Add(Read(reader));
        return list;
    }

    /// <summary>The execution's status, or null when it is not the tenant's.</summary>
    public async Task<string?> GetStatusAsync(Guid tenantId, Guid executionId, CancellationToken ct)
    {
        await using var cmd = db.Command("select status from executions where id = $1 and tenant_id = $2",
            Sql.P(executionId), Sql.P(tenantId));
        return await cmd.ExecuteScalarAsync(ct) as string;
    }

    /// <summary>Log lines after <paramref name="afterId"/> in order; served by execution_logs_execution_idx.</summary>
    public async Task<IReadOnlyList<LogEntry>> ReadLogsAsync(Guid executionId, long afterId, int limit, CancellationToken ct)
    {
        await using var cmd = db.Command("""
            select id, content, created_at, stream from execution_logs
            where execution_id = $1 and id > $2 order by id limit $3
            """, Sql.P(executionId), Sql.P(afterId), Sql.P(limit));
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        var list = new List<LogEntry>();
        while (await reader.ReadAsync(ct))
            list.Add(new LogEntry(reader.GetInt64(0), reader.GetString(1), reader.GetTimestamp(2), reader.GetStringOrNull(3)));
        return list;
    }

    /// <summary>Unretried dead letters, newest first; served by dead_letters_tenant_idx.</summary>
    public async Task<IReadOnlyList<DlqEntry>> ListDeadLettersAsync(Guid tenantId, int limit, int offset, CancellationToken ct)
    {
        await using var cmd = db.Command("""
            select d.id, d.execution_id, d.job_id, j.name, e.priority, d.error_message, d.attempts, d.failed_at
            from dead_letters d
            join executions e on e.id = d.execution_id
            join jobs j on j.id = d.job_id
            where d.tenant_id = $1 and d.retried_execution_id is null
            order by d.failed_at desc, d.id desc limit $2 offset $3
            """, Sql.P(tenantId), Sql.P(limit), Sql.P(offset));
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        var list = new List<DlqEntry>();
        while (await reader.ReadAsync(ct))
        {
            list.Add(new DlqEntry(reader.GetGuid(0), reader.GetGuid(1), reader.GetGuid(2), reader.GetString(3),
                new Priority(reader.GetInt16(4)), reader.GetString(5), reader.GetInt32(6), reader.GetTimestamp(7)));
        }
        return list;
    }

    /// <summary>
    /// Re-runs a dead-lettered execution as a new execution of the same job with the same priority and
    /// timeout; the failed one keeps its history. <paramref name="id"/> may be the dead letter's id or the
    /// execution's. Null when not found; conflict when it was already retried.
    /// </summary>
    public async Task<Guid?> RetryDeadLetterAsync(Guid tenantId, Guid id, CancellationToken ct)
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
                         Sql.P((DateTimeOffset?)null), Sql.P((int?)priority), Sql.P((int?)timeout)))
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

    private static ExecutionView Read(NpgsqlDataReader r) => new()
    {
        Id = r.GetGuid(0),
        JobId = r.GetGuid(1),
        JobName = r.GetString(2),
        Status = r.GetString(3),
        Priority = new Priority(r.GetInt16(4)),
        Attempt = r.GetInt32(5),
        MaxAttempts = r.GetInt32(6),
        ScheduledAt = r.GetTimestamp(7),
        CreatedAt = r.GetTimestamp(8),
        StartedAt = r.GetTimestampOrNull(9),
        CompletedAt = r.GetTimestampOrNull(10),
        ExitCode = r.GetInt32OrNull(11),
        Error = r.GetStringOrNull(12),
        Result = r.IsDBNull(13) ? null : ParseJson(r.GetString(13)),
        TimeoutSeconds = r.GetInt32(14),
    };

    private static JsonElement ParseJson(string json)
    {
        using var doc = JsonDocument.Parse(json);
        return doc.RootElement.Clone();
    }
}
