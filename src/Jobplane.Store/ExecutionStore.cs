using System.Text.Json;
using Jobplane.Api;
using Npgsql;

namespace Jobplane.Store;

/// <summary>What a tenant asks of a run: all optional overrides of the job's defaults.</summary>
public sealed record RunOptions(DateTimeOffset? ScheduledAt, int? TimeoutSeconds, Priority? Priority)
{
    /// <summary>W3C traceparent of the span that submits it, stored so the worker continues that trace.</summary>
    public string? TraceParent { get; init; }
}

/// <summary>A job a submission would run, and its image: what the operator's registry check reads.</summary>
public sealed record JobImage(Guid JobId, string Image);

/// <summary>Executions as tenants see them: submit, read, list, logs, dead letters. Scoped by tenant in SQL.</summary>
public sealed class ExecutionStore(NpgsqlDataSource db)
{
    private const string Columns = """
        e.id, e.job_id, j.name, e.status, e.priority, e.attempt, e.max_attempts, e.scheduled_at, e.created_at,
        e.started_at, e.completed_at, e.exit_code, e.error, e.result::text, e.timeout_seconds, e.cancel_requested_at, e.free_attempts
        """;

    /// <summary><see cref="Columns"/> without the result: the database never sends it for a list.</summary>
    private const string ListColumns = """
        e.id, e.job_id, j.name, e.status, e.priority, e.attempt, e.max_attempts, e.scheduled_at, e.created_at,
        e.started_at, e.completed_at, e.exit_code, e.error, null::text, e.timeout_seconds, e.cancel_requested_at, e.free_attempts
        """;

    /// <summary>
    /// Creates an execution of the tenant's job in one statement: PENDING and in the ready queue
    /// when due (by the database clock), SCHEDULED otherwise. Null when the job is not the tenant's.
    /// With an idempotency key, the first request within 24 hours creates the execution and every
    /// repeat (also a concurrent one: the key's primary key serialises them) gets that same execution
    /// back with Replayed set; a key already used for another job is a conflict.
    /// <para>With <paramref name="verifyKeyId"/>, the statement also requires that API key to be
    /// unrevoked and its tenant not suspended, and creates nothing (null) otherwise.</para>
    /// </summary>
    public async Task<RunJobResponse?> RunAsync(Guid tenantId, Guid jobId, RunOptions options, string? idempotencyKey, CancellationToken ct,
        Guid? verifyKeyId = null)
    {
        await using (var cmd = db.Command(SubmitSql,
            Sql.P(Guid.CreateVersion7()), Sql.P(jobId), Sql.P(tenantId), Sql.P(options.ScheduledAt),
            Sql.P(options.Priority?.Value), Sql.P(options.TimeoutSeconds), Sql.P(idempotencyKey), Sql.P(options.TraceParent),
            Sql.P(verifyKeyId)))
        await using (var reader = await cmd.ExecuteReaderAsync(ct))
        {
            if (await reader.ReadAsync(ct)) return new RunJobResponse(reader.GetGuid(0), reader.GetString(1));
        }
        if (idempotencyKey is null) return null;

        // Nothing was created: either the job is not the tenant's, or the key was used before.
        await using var lookup = db.Command("""
            select k.execution_id, k.job_id, e.status from idempotency_keys k join executions e on e.id = k.execution_id
            where k.tenant_id = $1 and k.key = $2 and k.created_at >= now() - interval '24 hours'
              and exists (select 1 from jobs where id = $3 and tenant_id = $1)
            """, Sql.P(tenantId), Sql.P(idempotencyKey), Sql.P(jobId));
        await using var found = await lookup.ExecuteReaderAsync(ct);
        if (!await found.ReadAsync(ct)) return null;
        if (found.GetGuid(1) != jobId)
            throw new StoreConflictException($"Idempotency-Key '{idempotencyKey}' was already used to run another job (execution {found.GetGuid(0)})");
        return new RunJobResponse(found.GetGuid(0), found.GetString(2)) { Replayed = true };
    }

    /// <summary>
    /// Creates <paramref name="count"/> executions of the tenant's job in one statement (one commit
    /// however many): PENDING and ready when due, SCHEDULED otherwise. Null when the job is not the tenant's.
    /// </summary>
    public async Task<BatchRunResponse?> RunManyAsync(Guid tenantId, Guid jobId, int count, RunOptions options, CancellationToken ct)
    {
        var ids = new Guid[count];
        for (var i = 0; i < count; i++) ids[i] = Guid.CreateVersion7();
        await using var cmd = db.Command($"""
            with job as (
                select id, tenant_id, priority, timeout_seconds, max_attempts,
                       image, network, run_as_root, memory_limit_bytes, cpu_limit, pids_limit
                from jobs where id = $2 and tenant_id = $3
            ), ins as (
                insert into executions (id, tenant_id, job_id, status, priority, timeout_seconds, max_attempts, scheduled_at, trace_parent)
                select n.id, job.tenant_id, job.id,
                       case when coalesce($4, now()) <= now() then 'PENDING' else 'SCHEDULED' end,
                       coalesce($5, job.priority), coalesce($6, job.timeout_seconds), job.max_attempts,
                       greatest(coalesce($4, now()), now()), $7
                from job, unnest($1::uuid[]) with ordinality as n(id, ord)
                order by n.ord
                returning id, tenant_id, priority, status, scheduled_at
            ), queued as (
                insert into ready_queue (execution_id, tenant_id, priority, ready_at, {Routing.Columns})
                select ins.id, ins.tenant_id, ins.priority, ins.scheduled_at, {Routing.FromJob}
                from ins, job j where ins.status = 'PENDING'
            )
            select (select status from ins limit 1), exists (select 1 from job)
            """, Sql.P(ids), Sql.P(jobId), Sql.P(tenantId), Sql.P(options.ScheduledAt),
            Sql.P(options.Priority?.Value), Sql.P(options.TimeoutSeconds), Sql.P(options.TraceParent));
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        await reader.ReadAsync(ct);
        if (!reader.GetBoolean(1)) return null;
        return new BatchRunResponse(ids, reader.GetString(0));
    }

    /// <summary>
    /// The tenant's job and its image (empty when it is not the tenant's); one primary-key probe.
    /// With <paramref name="verifyKeyId"/>, empty also when that key is no longer live, as
    /// <see cref="RunAsync"/> would create nothing for it.
    /// </summary>
    public Task<IReadOnlyList<JobImage>> JobImageAsync(Guid tenantId, Guid jobId, CancellationToken ct, Guid? verifyKeyId = null) =>
        ReadImagesAsync($"""
            select id, image from jobs where id = $1 and tenant_id = $2 and {LiveKey("$3", "$2")}
            """, ct, Sql.P(jobId), Sql.P(tenantId), Sql.P(verifyKeyId));

    /// <summary>The job of one of the tenant's dead letters (by its id or its execution's) and its image.</summary>
    public Task<IReadOnlyList<JobImage>> DeadLetterImageAsync(Guid tenantId, Guid id, CancellationToken ct) =>
        ReadImagesAsync("""
            select j.id, j.image from dead_letters d join jobs j on j.id = d.job_id
            where (d.id = $1 or d.execution_id = $1) and d.tenant_id = $2
            """, ct, Sql.P(id), Sql.P(tenantId));

    /// <summary>
    /// Each job with unretried dead letters of the tenant (or only <paramref name="jobId"/>), and its
    /// image: what <see cref="RetryDeadLettersAsync"/> would run. Walks dead_letters_tenant_idx.
    /// </summary>
    public Task<IReadOnlyList<JobImage>> DeadLetterImagesAsync(Guid tenantId, Guid? jobId, CancellationToken ct) =>
        ReadImagesAsync("""
            select j.id, j.image from jobs j
            where j.tenant_id = $1 and ($2::uuid is null or j.id = $2)
              and j.id in (select d.job_id from dead_letters d
                           where d.tenant_id = $1 and d.retried_execution_id is null and ($2::uuid is null or d.job_id = $2))
            """, ct, Sql.P(tenantId), Sql.P(jobId));

    private async Task<IReadOnlyList<JobImage>> ReadImagesAsync(string sql, CancellationToken ct, params NpgsqlParameter[] parameters)
    {
        await using var cmd = db.Command(sql, parameters);
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        var list = new List<JobImage>();
        while (await reader.ReadAsync(ct)) list.Add(new JobImage(reader.GetGuid(0), reader.GetString(1)));
        return list;
    }

    /// <summary>
    /// SQL true when the API key <paramref name="key"/> (a uuid parameter; null: not asked) is the
    /// tenant's, unrevoked and unexpired, and the tenant not suspended.
    /// </summary>
    private static string LiveKey(string key, string tenant) => $"""
        ({key}::uuid is null or exists (
            select 1 from api_keys k join tenants t on t.id = k.tenant_id
            where k.id = {key} and k.tenant_id = {tenant} and k.revoked_at is null
              and (k.expires_at is null or k.expires_at > now()) and t.suspended_at is null))
        """;

    // $1 new id, $2 job, $3 tenant, $4 scheduled_at?, $5 priority?, $6 timeout?, $7 idempotency key?, $8 traceparent?
    // The key row is taken (or an expired one reclaimed) in the same statement that creates the
    // execution; when the key is live, the insert claims nothing and nothing is created.
    // $9, when given, is the API key the request came with, checked in this same statement: the
    // controller may then admit a submission on a recently verified key without a transaction of its
    // own, and a key revoked (or a tenant suspended) before this statement still creates nothing.
    internal static readonly string SubmitSql = $"""
        with job as (
            select id, tenant_id, priority, timeout_seconds, max_attempts,
                   image, network, run_as_root, memory_limit_bytes, cpu_limit, pids_limit
            from jobs where id = $2 and tenant_id = $3
              and {LiveKey("$9", "$3")}
        ), key as (
            insert into idempotency_keys (tenant_id, key, job_id, execution_id)
            select job.tenant_id, $7, job.id, $1 from job where $7::text is not null
            on conflict (tenant_id, key) do update
                set job_id = excluded.job_id, execution_id = excluded.execution_id, created_at = now()
                where idempotency_keys.created_at < now() - interval '24 hours'
            returning execution_id
        ), ins as (
            insert into executions (id, tenant_id, job_id, status, priority, timeout_seconds, max_attempts, scheduled_at, trace_parent)
            select $1, job.tenant_id, job.id,
                   case when coalesce($4, now()) <= now() then 'PENDING' else 'SCHEDULED' end,
                   coalesce($5, job.priority), coalesce($6, job.timeout_seconds), job.max_attempts,
                   greatest(coalesce($4, now()), now()), $8
            from job
            where $7::text is null or exists (select 1 from key)
            returning id, tenant_id, priority, status, scheduled_at
        ), queued as (
            insert into ready_queue (execution_id, tenant_id, priority, ready_at, {Routing.Columns})
            select ins.id, ins.tenant_id, ins.priority, ins.scheduled_at, {Routing.FromJob}
            from ins, job j where ins.status = 'PENDING'
        )
        select id, status from ins
        """;

    /// <summary>
    /// Cancels one execution. Queued, scheduled and retry-waiting executions end CANCELLED at once and
    /// never run; a running one is marked, its worker stops it at the next heartbeat, and it ends
    /// CANCELLED when the worker reports (or its lease expires). Null when not the tenant's;
    /// conflict when it already finished.
    /// </summary>
    public async Task<CancelResponse?> CancelAsync(Guid tenantId, Guid executionId, CancellationToken ct)
    {
        await using var conn = await db.OpenConnectionAsync(ct);
        await using var tx = await conn.BeginTransactionAsync(ct);
        // The ready-queue row first, then the execution: the same lock order as a claim, so a cancel
        // racing a claim waits for it instead of deadlocking with it.
        await using (var cmd = conn.Command("delete from ready_queue where execution_id = $1 and tenant_id = $2", tx,
                         Sql.P(executionId), Sql.P(tenantId)))
        {
            await cmd.ExecuteNonQueryAsync(ct);
        }
        string? status;
        await using (var cmd = conn.Command("select status from executions where id = $1 and tenant_id = $2 for update", tx,
                         Sql.P(executionId), Sql.P(tenantId)))
        {
            status = await cmd.ExecuteScalarAsync(ct) as string;
        }
        if (status is null) return null;
        if (ExecutionStatus.IsTerminal(status))
            throw new StoreConflictException($"execution {executionId} already finished ({status}); there is nothing to cancel");

        var running = status == ExecutionStatus.Running;
        await using (var cmd = conn.Command(running
                ? "update executions set cancel_requested_at = coalesce(cancel_requested_at, now()) where id = $1"
                : """
                  update executions set status = 'CANCELLED', completed_at = now(), cancel_requested_at = now(),
                      error = 'cancelled before it ran' || case when attempt > 0 then ' again' else '' end
                  where id = $1
                  """, tx, Sql.P(executionId)))
        {
            await cmd.ExecuteNonQueryAsync(ct);
        }
        if (!running)
        {
            // A promotion that raced us may have queued it again; it must not stay there.
            await using var cmd = conn.Command("delete from ready_queue where execution_id = $1", tx, Sql.P(executionId));
            await cmd.ExecuteNonQueryAsync(ct);
        }
        await tx.CommitAsync(ct);
        return new CancelResponse(executionId, running ? ExecutionStatus.Running : ExecutionStatus.Cancelled, CancelRequested: true);
    }

    /// <summary>Cancels every unfinished execution of a job; null when the job is not the tenant's.</summary>
    public async Task<BulkCancelResponse?> CancelJobAsync(Guid tenantId, Guid jobId, CancellationToken ct)
    {
        await using var conn = await db.OpenConnectionAsync(ct);
        await using var tx = await conn.BeginTransactionAsync(ct);
        await using (var cmd = conn.Command("select 1 from jobs where id = $1 and tenant_id = $2", tx, Sql.P(jobId), Sql.P(tenantId)))
        {
            if (await cmd.ExecuteScalarAsync(ct) is null) return null;
        }
        await using var batch = new NpgsqlBatch(conn, tx);
        // Ready-queue rows first (the claim's lock order), then the executions.
        batch.BatchCommands.Add(Sql.BatchCommand("""
            delete from ready_queue q using executions e
            where q.execution_id = e.id and e.job_id = $1 and e.tenant_id = $2
            """, Sql.P(jobId), Sql.P(tenantId)));
        batch.BatchCommands.Add(Sql.BatchCommand("""
            update executions set status = 'CANCELLED', completed_at = now(), cancel_requested_at = now(),
                error = 'cancelled before it ran' || case when attempt > 0 then ' again' else '' end
            where job_id = $1 and tenant_id = $2 and status in ('PENDING', 'SCHEDULED', 'RETRYING')
            """, Sql.P(jobId), Sql.P(tenantId)));
        batch.BatchCommands.Add(Sql.BatchCommand("""
            update executions set cancel_requested_at = coalesce(cancel_requested_at, now())
            where job_id = $1 and tenant_id = $2 and status = 'RUNNING'
            """, Sql.P(jobId), Sql.P(tenantId)));
        batch.BatchCommands.Add(Sql.BatchCommand("""
            delete from ready_queue q using executions e
            where q.execution_id = e.id and e.job_id = $1 and e.tenant_id = $2 and e.status = 'CANCELLED'
            """, Sql.P(jobId), Sql.P(tenantId)));
        await batch.ExecuteNonQueryAsync(ct);
        var cancelled = batch.BatchCommands[1].RecordsAffected;
        var stopping = batch.BatchCommands[2].RecordsAffected;
        await tx.CommitAsync(ct);
        return new BulkCancelResponse(cancelled, stopping);
    }

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

    /// <summary>
    /// Newest first, by (created_at, id) descending; served by executions_job_created_idx or
    /// executions_tenant_created_idx (both end in created_at desc, id desc, so a keyset position is
    /// an index range, not a scan and skip). Listed rows leave out the result: a page of results
    /// of up to 1 MiB each would cost the controller a page's worth of them in memory, and a
    /// client reads one result through <see cref="GetAsync"/>.
    /// </summary>
    public async Task<Page<ExecutionView>> ListPageAsync(
        Guid tenantId, string? status, Guid? jobId, PageRequest page, CancellationToken ct)
    {
        List<NpgsqlParameter> ps = [Sql.P(tenantId), Sql.P(status), Sql.P(jobId), Sql.P(page.Limit + 1), Sql.P(page.Offset)];
        var after = Paging.After(page, ps, "e.created_at", "e.id", newestFirst: true);
        await using var cmd = db.Command($"""
            select {ListColumns} from executions e join jobs j on j.id = e.job_id
            where e.tenant_id = $1 and ($2::text is null or e.status = $2) and ($3::uuid is null or e.job_id = $3)
              and {after}
            order by e.created_at desc, e.id desc limit $4 offset $5
            """, [.. ps]);
        return await Paging.ReadAsync(cmd, page.Limit, Read, ct);
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

    /// <summary>
    /// A page of log lines after <paramref name="afterId"/>: at most <paramref name="limit"/> lines,
    /// and lines only while their content adds up to at most <paramref name="maxBytes"/> (UTF-8),
    /// except that the first line always comes so that a client paging with after_id progresses.
    /// The budget is applied in the database, from each line's stored size: the lines past it are
    /// never sent to the controller. Served by execution_logs_execution_idx.
    /// </summary>
    public async Task<IReadOnlyList<LogEntry>> ReadLogPageAsync(Guid executionId, long afterId, int limit, long maxBytes, CancellationToken ct)
    {
        await using var cmd = db.Command("""
            with page as (
                select id, sum(octet_length(content)) over (order by id) as running, row_number() over (order by id) as n
                from (select id, content from execution_logs where execution_id = $1 and id > $2 order by id limit $3) l
            )
            select l.id, l.content, l.created_at, l.stream
            from page p join execution_logs l on l.id = p.id
            where p.n = 1 or p.running <= $4
            order by l.id
            """, Sql.P(executionId), Sql.P(afterId), Sql.P(limit), Sql.P(maxBytes));
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        var list = new List<LogEntry>();
        while (await reader.ReadAsync(ct))
            list.Add(new LogEntry(reader.GetInt64(0), reader.GetString(1), reader.GetTimestamp(2), reader.GetStringOrNull(3)));
        return list;
    }

    /// <summary>Unretried dead letters, newest first by (failed_at, id) descending; served by dead_letters_tenant_idx.</summary>
    public async Task<Page<DlqEntry>> ListDeadLettersPageAsync(Guid tenantId, PageRequest page, CancellationToken ct)
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
        return await Paging.ReadAsync(cmd, page.Limit, reader => new DlqEntry(reader.GetGuid(0), reader.GetGuid(1), reader.GetGuid(2), reader.GetString(3),
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
                         Sql.P((Guid?)null)))
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
    /// checked, so a dead letter of another job arriving meanwhile waits for the next retry.
    /// </summary>
    public async Task<DlqBulkRetryResponse> RetryDeadLettersAsync(Guid tenantId, Guid? jobId, int max, CancellationToken ct, string? traceParent = null,
        IReadOnlyList<Guid>? onlyJobs = null)
    {
        await using var cmd = db.Command($"""
            with picked as (
                select d.id, d.job_id, e.priority, e.timeout_seconds
                from dead_letters d join executions e on e.id = d.execution_id
                where d.tenant_id = $1 and d.retried_execution_id is null and ($2::uuid is null or d.job_id = $2)
                  and ($5::uuid[] is null or d.job_id = any($5))
                order by d.failed_at
                limit $3
                for update of d skip locked
            ), fresh as materialized (
                select p.*, gen_random_uuid() as new_id from picked p
            ), made as (
                insert into executions (id, tenant_id, job_id, status, priority, timeout_seconds, max_attempts, scheduled_at, trace_parent)
                select f.new_id, $1, f.job_id, 'PENDING', f.priority, f.timeout_seconds, j.max_attempts, now(), $4
                from fresh f join jobs j on j.id = f.job_id
                returning id, tenant_id, job_id, priority, scheduled_at
            ), queued as (
                insert into ready_queue (execution_id, tenant_id, priority, ready_at, {Routing.Columns})
                select m.id, m.tenant_id, m.priority, m.scheduled_at, {Routing.FromJob}
                from made m join jobs j on j.id = m.job_id
            ), marked as (
                update dead_letters d set retried_execution_id = f.new_id from fresh f where d.id = f.id
            )
            select new_id from fresh
            """, Sql.P(tenantId), Sql.P(jobId), Sql.P(max), Sql.P(traceParent), Sql.P(onlyJobs?.ToArray()));
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        var ids = new List<Guid>();
        while (await reader.ReadAsync(ct)) ids.Add(reader.GetGuid(0));
        return new DlqBulkRetryResponse(ids.Count, ids);
    }

    /// <summary>Removes the tenant's unretried dead letters (or one job's); the executions keep their history.</summary>
    public async Task<int> PurgeDeadLettersAsync(Guid tenantId, Guid? jobId, CancellationToken ct)
    {
        await using var cmd = db.Command("""
            delete from dead_letters
            where tenant_id = $1 and retried_execution_id is null and ($2::uuid is null or job_id = $2)
            """, Sql.P(tenantId), Sql.P(jobId));
        return await cmd.ExecuteNonQueryAsync(ct);
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
        CancelRequestedAt = r.GetTimestampOrNull(15),
        HandedBack = r.GetInt32(16),
    };

    private static JsonElement ParseJson(string json)
    {
        using var doc = JsonDocument.Parse(json);
        return doc.RootElement.Clone();
    }
}
