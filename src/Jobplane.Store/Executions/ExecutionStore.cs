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
public sealed partial class ExecutionStore(NpgsqlDataSource db)
{
    /// <summary>
    /// Creates an execution of the tenant's job in one statement: PENDING and in the ready queue
    /// when due (by the database clock), SCHEDULED otherwise. Null when the job is not the tenant's.
    /// With an idempotency key, the first request within 24 hours creates the execution and every
    /// repeat (also a concurrent one: the key's primary key serialises them) gets that same execution
    /// back with Replayed set; a key already used for another job is a conflict.
    /// <para>With <paramref name="verifyKeyId"/>, the statement also requires that API key to be
    /// unrevoked and its tenant not suspended, and creates nothing (null) otherwise.</para>
    /// </summary>
    public async Task<SubmittedRun?> RunAsync(Guid tenantId, Guid jobId, RunOptions options, string? idempotencyKey, CancellationToken ct,
        Guid? verifyKeyId = null)
    {
        var run = new RunRequest(tenantId, jobId, options, idempotencyKey, verifyKeyId);
        await using (var cmd = db.Command(SubmitSql, SubmitParameters(run)))
        await using (var reader = await cmd.ExecuteReaderAsync(ct))
        {
            if (await reader.ReadAsync(ct)) return new SubmittedRun(reader.GetGuid(0), reader.GetString(1));
        }
        if (idempotencyKey is null) return null;

        // Nothing was created: either the job is not the tenant's, or the key was used before.
        await using var lookup = db.Command(ReplaySql, ReplayParameters(run));
        await using var found = await lookup.ExecuteReaderAsync(ct);
        return await ReadReplayAsync(found, run, ct);
    }

    /// <summary>
    /// The parameters of <see cref="SubmitSql"/> for one run (a fresh execution id each time), as
    /// <see cref="RunAsync"/> and a group of runs (<see cref="RunGroupAsync"/>) send them.
    /// </summary>
    private static NpgsqlParameter[] SubmitParameters(RunRequest run) =>
    [
        Sql.P(Guid.CreateVersion7()), Sql.P(run.JobId), Sql.P(run.TenantId), Sql.P(run.Options.ScheduledAt),
        Sql.P(run.Options.Priority?.Value), Sql.P(run.Options.TimeoutSeconds), Sql.P(run.IdempotencyKey), Sql.P(run.Options.TraceParent),
        Sql.P(run.VerifyKeyId), Sql.P(EventKind.Submitted.Word()),
    ];

    // The execution a live idempotency key names, when the job asked for is the tenant's. Read after
    // the submit statement created nothing and committed: a concurrent first request holding the key
    // made that statement wait for its commit, so this read (a new snapshot) sees its execution.
    private const string ReplaySql = """
        select k.execution_id, k.job_id, e.status from idempotency_keys k join executions e on e.id = k.execution_id
        where k.tenant_id = $1 and k.key = $2 and k.created_at >= now() - interval '24 hours'
          and exists (select 1 from jobs where id = $3 and tenant_id = $1)
        """;

    private static NpgsqlParameter[] ReplayParameters(RunRequest run) =>
        [Sql.P(run.TenantId), Sql.P(run.IdempotencyKey), Sql.P(run.JobId)];

    /// <summary>The replay <see cref="ReplaySql"/> found (null: none); a key used for another job is a conflict.</summary>
    private static async Task<SubmittedRun?> ReadReplayAsync(NpgsqlDataReader found, RunRequest run, CancellationToken ct)
    {
        if (!await found.ReadAsync(ct)) return null;
        if (found.GetGuid(1) != run.JobId)
            throw new StoreConflictException($"Idempotency-Key '{run.IdempotencyKey}' was already used to run another job (execution {found.GetGuid(0)})");
        return new SubmittedRun(found.GetGuid(0), found.GetString(2), Replayed: true);
    }

    /// <summary>
    /// Creates <paramref name="count"/> executions of the tenant's job in one statement (one commit
    /// however many): PENDING and ready when due, SCHEDULED otherwise. Null when the job is not the tenant's.
    /// </summary>
    public async Task<SubmittedBatch?> RunManyAsync(Guid tenantId, Guid jobId, int count, RunOptions options, CancellationToken ct)
    {
        var ids = new Guid[count];
        for (var i = 0; i < count; i++) ids[i] = Guid.CreateVersion7();
        await using var cmd = db.Command($"""
            with job as (
                select id, tenant_id, priority, timeout_seconds, max_attempts,
                       image, network, run_as_root, memory_limit_bytes, cpu_limit, pids_limit
                from jobs where id = $2 and tenant_id = $3
            ), ins as (
                {TransitionWriter.InsertExecutions}
                select n.id, job.tenant_id, job.id, {DueStatus("$4")},
                       coalesce($5, job.priority), coalesce($6, job.timeout_seconds), job.max_attempts,
                       greatest(coalesce($4, now()), now()), $7
                from job, unnest($1::uuid[]) with ordinality as n(id, ord)
                order by n.ord
                {TransitionWriter.CreatedColumns}
            ), {TransitionWriter.Created("ins", "$8::text")}
            select (select status from ins limit 1), exists (select 1 from job)
            """, Sql.P(ids), Sql.P(jobId), Sql.P(tenantId), Sql.P(options.ScheduledAt),
            Sql.P(options.Priority?.Value), Sql.P(options.TimeoutSeconds), Sql.P(options.TraceParent), Sql.P(EventKind.Submitted.Word()));
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        await reader.ReadAsync(ct);
        if (!reader.GetBoolean(1)) return null;
        return new SubmittedBatch(ids, reader.GetString(0));
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
    // $10 is the kind of the execution's first event (submitted, or retried_from_dlq).
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
            {TransitionWriter.InsertExecutions}
            select $1, job.tenant_id, job.id, {DueStatus("$4")},
                   coalesce($5, job.priority), coalesce($6, job.timeout_seconds), job.max_attempts,
                   greatest(coalesce($4, now()), now()), $8
            from job
            where $7::text is null or exists (select 1 from key)
            {TransitionWriter.CreatedColumns}
        ), {TransitionWriter.Created("ins", "$10::text")}
        select id, status from ins
        """;

    /// <summary>
    /// The status of a new execution due at the timestamptz <paramref name="at"/> (null: now), by the
    /// database clock: what <see cref="ExecutionTransitions"/> decides for a submission.
    /// </summary>
    private static string DueStatus(string at) =>
        $"case when coalesce({at}, now()) <= now() then '{ExecutionStatus.Pending}' else '{ExecutionStatus.Scheduled}' end";
}
