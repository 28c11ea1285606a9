using Jobplane.Api;
using Npgsql;

namespace Jobplane.Store.Dashboard;

/// <summary>
/// How a job's recent runs went: its last <see cref="JobQueries.StatsRuns"/> finished executions
/// (succeeded, failed or cancelled) among its newest <see cref="JobQueries.StatsScan"/>, and the
/// run time (start to end) percentiles of those that started.
/// </summary>
public sealed record RunStats(int Finished, int Succeeded, int Failed, int Cancelled, double? P50Seconds, double? P95Seconds)
{
    /// <summary>Succeeded of finished; null when none finished.</summary>
    public double? SuccessRate => Finished == 0 ? null : (double)Succeeded / Finished;
}

/// <summary>A job as the jobs page lists it: the definition (command cut to a budget), its tenant, its recent runs, its newest execution.</summary>
public sealed record JobSummary(JobRecord Job, Guid TenantId, string TenantName, RunStats Stats, Guid? LastRunId, string? LastRunStatus,
    DateTimeOffset? LastRunAt);

/// <summary>A job whole, with what its page needs of its tenant: its state and request rate limit.</summary>
public sealed record JobDetail(JobRecord Job, Guid TenantId, string TenantName, bool TenantSuspended, double? RateLimit, int? RateLimitBurst,
    RunStats Stats);

/// <summary>
/// What the dashboard's jobs pages read. A tenant's jobs come newest first from
/// jobs_tenant_created_idx (keyset); the administrator's view without a tenant walks the tenants and
/// reads each one's first page from that index, merging them, so a page costs (tenants × page) index
/// rows at most. Each job's figures are one lateral read of executions_job_created_idx bounded by
/// <see cref="StatsScan"/> rows, and one index probe for its newest execution: a page of 50 jobs costs
/// at most 50 × 1,001 index rows however long their histories.
/// </summary>
public sealed class JobQueries(NpgsqlDataSource db)
{
    /// <summary>Finished runs the figures cover.</summary>
    public const int StatsRuns = 100;
    /// <summary>Newest executions read to find them: a job with a long backlog of unfinished runs shows fewer.</summary>
    public const int StatsScan = 1000;

    private const string Finished = $"'{ExecutionStatus.Succeeded}', '{ExecutionStatus.Failed}', '{ExecutionStatus.Cancelled}'";

    // The job's figures, for a row aliased p (columns: finished, succeeded, failed, cancelled, float8[] {p50, p95}).
    private static readonly string Stats = $"""
        select count(*)::int as finished,
               count(*) filter (where f.status = '{ExecutionStatus.Succeeded}')::int as succeeded,
               count(*) filter (where f.status = '{ExecutionStatus.Failed}')::int as failed,
               count(*) filter (where f.status = '{ExecutionStatus.Cancelled}')::int as cancelled,
               percentile_cont(array[0.5, 0.95]) within group (order by extract(epoch from f.completed_at - f.started_at)::float8)
                   filter (where f.started_at is not null and f.completed_at >= f.started_at) as p
        from (
            select r.status, r.started_at, r.completed_at from (
                select e.status, e.started_at, e.completed_at, e.created_at, e.id from executions e
                where e.job_id = p.id and e.tenant_id = p.tenant_id
                order by e.created_at desc, e.id desc limit {StatsScan}) r
            where r.status in ({Finished})
            order by r.created_at desc, r.id desc limit {StatsRuns}) f
        """;

    // A list row's job columns, in JobStore.Read's order; the command cut in the database to $2 characters
    // (as GET /jobs cuts it), so a page never carries megabytes of commands to the controller.
    private const string ListColumns = """
        p.id, p.name, p.image,
        case when size.chars <= $2 then p.command else (
            select coalesce(array_agg(left(a, ($2 - (cum - length(a)))::int) order by ord), array[]::text[])
            from (select a, ord, sum(length(a)) over (order by ord) as cum
                  from unnest(p.command) with ordinality u(a, ord)) s
            where cum - length(a) < $2) end,
        p.timeout_seconds, p.priority, p.max_attempts, p.created_at, p.updated_at,
        p.retry_backoff_base_seconds, p.retry_backoff_max_seconds, p.non_retryable_exit_codes,
        p.memory_limit_bytes, p.cpu_limit, p.pids_limit, p.network, p.run_as_root,
        size.chars > $2
        """;

    /// <summary>
    /// One page of jobs, newest first, after <paramref name="after"/>; <paramref name="tenantId"/>
    /// null: every tenant's (the administrator).
    /// </summary>
    public async Task<Page<JobSummary>> ListAsync(Guid? tenantId, PagePosition? after, int limit, int commandChars, CancellationToken ct)
    {
        List<NpgsqlParameter> ps = [Sql.P(limit + 1), Sql.P(commandChars)];
        string page;
        if (tenantId is { } tenant)
        {
            ps.Add(Sql.P(tenant));
            var position = Paging.After(new PageRequest(limit, 0, after), ps, "j.created_at", "j.id", newestFirst: true);
            page = $"""
                select j.* from jobs j where j.tenant_id = $3 and {position}
                order by j.created_at desc, j.id desc limit $1
                """;
        }
        else
        {
            var position = Paging.After(new PageRequest(limit, 0, after), ps, "j.created_at", "j.id", newestFirst: true);
            page = $"""
                select jj.* from tenants t cross join lateral (
                    select j.* from jobs j where j.tenant_id = t.id and {position}
                    order by j.created_at desc, j.id desc limit $1) jj
                order by jj.created_at desc, jj.id desc limit $1
                """;
        }
        await using var cmd = db.Command($"""
            with page as ({page})
            select {ListColumns}, p.tenant_id, t.name, s.finished, s.succeeded, s.failed, s.cancelled, s.p,
                   l.id, l.status, l.created_at
            from page p
            join tenants t on t.id = p.tenant_id
            cross join lateral (select coalesce(sum(length(a)), 0) as chars from unnest(p.command) a) size
            cross join lateral ({Stats}) s
            left join lateral (
                select e.id, e.status, e.created_at from executions e
                where e.job_id = p.id and e.tenant_id = p.tenant_id order by e.created_at desc, e.id desc limit 1) l on true
            order by p.created_at desc, p.id desc
            """, [.. ps]);
        return await Paging.ReadAsync(cmd, limit, r => new JobSummary(
            JobStore.Read(r) with { CommandTruncated = r.GetBoolean(17) }, r.GetGuid(18), r.GetString(19), ReadStats(r, 20),
            r.IsDBNull(25) ? null : r.GetGuid(25), r.GetStringOrNull(26), r.GetTimestampOrNull(27)), ct);
    }

    /// <summary>The job whole with its figures; null when it is not in scope (<paramref name="tenantId"/> null: any tenant's).</summary>
    public async Task<JobDetail?> GetAsync(Guid? tenantId, Guid jobId, CancellationToken ct)
    {
        await using var cmd = db.Command($"""
            select {Prefixed("p")}, p.tenant_id, t.name, t.suspended_at is not null, t.rate_limit, t.rate_limit_burst,
                   s.finished, s.succeeded, s.failed, s.cancelled, s.p
            from jobs p
            join tenants t on t.id = p.tenant_id
            cross join lateral ({Stats}) s
            where p.id = $1 {(tenantId is null ? "" : "and p.tenant_id = $2")}
            """, tenantId is { } tenant ? [Sql.P(jobId), Sql.P(tenant)] : [Sql.P(jobId)]);
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        if (!await reader.ReadAsync(ct)) return null;
        return new JobDetail(JobStore.Read(reader), reader.GetGuid(17), reader.GetString(18), reader.GetBoolean(19),
            reader.IsDBNull(20) ? null : reader.GetDouble(20), reader.GetInt32OrNull(21), ReadStats(reader, 22));
    }

    private static string Prefixed(string alias) =>
        string.Join(", ", JobStore.Columns.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries).Select(c => $"{alias}.{c}"));

    private static RunStats ReadStats(NpgsqlDataReader r, int first)
    {
        double? p50 = null, p95 = null;
        if (!r.IsDBNull(first + 4) && r.GetFieldValue<double?[]>(first + 4) is [var a, var b]) (p50, p95) = (a, b);
        return new RunStats(r.GetInt32(first), r.GetInt32(first + 1), r.GetInt32(first + 2), r.GetInt32(first + 3), p50, p95);
    }
}
