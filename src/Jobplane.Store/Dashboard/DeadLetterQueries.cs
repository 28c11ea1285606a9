using Npgsql;

namespace Jobplane.Store.Dashboard;

/// <summary>An unretried dead letter as the dashboard lists it.</summary>
public sealed record DeadLetterRow(Guid Id, Guid TenantId, string TenantName, Guid ExecutionId, Guid JobId, string JobName, string Error,
    int Attempts, DateTimeOffset FailedAt);

/// <summary>
/// One page of dead letters. <see cref="Next"/> continues the list (null: the end). With a job filter,
/// <see cref="SearchCut"/> says the page stopped because it had searched <see cref="DeadLetterQueries.SearchRows"/>
/// dead letters, not because the list ended: <see cref="Next"/> continues the search.
/// </summary>
public sealed record DeadLetterPage(IReadOnlyList<DeadLetterRow> Items, PagePosition? Next, bool SearchCut);

/// <summary>How many unretried dead letters a bulk action would take, counted up to a bound.</summary>
public sealed record DeadLetterCount(long Count, bool AtLeast);

/// <summary>
/// What the dashboard's dead-letters page reads (retry and purge go through <see cref="ExecutionStore"/>,
/// as the API's do). Every read walks dead_letters_tenant_idx (tenant, failed_at desc, id desc; unretried
/// rows only) as a keyset range. A job filter has no index of its own: a page searches at most
/// <see cref="SearchRows"/> of the tenant's dead letters and says so. The administrator's view without a
/// tenant reads each tenant's first page from the index and merges them (no job filter there).
/// </summary>
public sealed class DeadLetterQueries(NpgsqlDataSource db)
{
    /// <summary>Dead letters one filtered page searches at most.</summary>
    public const int SearchRows = 20_000;
    /// <summary>Dead letters a confirmation counts at most.</summary>
    public const int CountRows = 100_000;

    private const string Row = """
        d.id, d.tenant_id, t.name, d.execution_id, d.job_id, j.name, d.error_message, d.attempts, d.failed_at
        """;

    /// <summary>
    /// Newest first after <paramref name="after"/>. <paramref name="tenantId"/> null: every tenant's (the
    /// administrator; <paramref name="jobId"/> must then be null too).
    /// </summary>
    public async Task<DeadLetterPage> ListAsync(Guid? tenantId, Guid? jobId, PagePosition? after, int limit, CancellationToken ct)
    {
        if (tenantId is null && jobId is not null) throw new ArgumentException("a job filter needs a tenant", nameof(jobId));
        List<NpgsqlParameter> ps = [Sql.P(limit + 1)];
        string sql;
        if (tenantId is not { } tenant)
        {
            var position = Paging.After(new PageRequest(limit, 0, after), ps, "x.failed_at", "x.id", newestFirst: true);
            sql = $"""
                with page as (
                    select xx.id, xx.failed_at from tenants t cross join lateral (
                        select x.id, x.failed_at from dead_letters x
                        where x.tenant_id = t.id and x.retried_execution_id is null and {position}
                        order by x.failed_at desc, x.id desc limit $1) xx
                    order by xx.failed_at desc, xx.id desc limit $1)
                select true, {Row}
                from page p join dead_letters d on d.id = p.id join jobs j on j.id = d.job_id join tenants t on t.id = d.tenant_id
                order by d.failed_at desc, d.id desc
                """;
        }
        else
        {
            ps.Add(Sql.P(tenant));
            ps.Add(Sql.P(jobId));
            var position = Paging.After(new PageRequest(limit, 0, after), ps, "x.failed_at", "x.id", newestFirst: true);
            // Without a job: the first limit + 1 rows of the range. With one: the range's next SearchRows
            // rows (keys only), the job's among them, and a last row telling how far the search went.
            sql = $"""
                with searched as materialized (
                    select x.id, x.failed_at, x.job_id from dead_letters x
                    where x.tenant_id = $2 and x.retried_execution_id is null and {position}
                    order by x.failed_at desc, x.id desc limit case when $3::uuid is null then $1 else {SearchRows} end)
                (select true, {Row}
                 from searched s join dead_letters d on d.id = s.id join jobs j on j.id = d.job_id join tenants t on t.id = d.tenant_id
                 where $3::uuid is null or s.job_id = $3
                 order by d.failed_at desc, d.id desc limit $1)
                union all
                (select false, s.id, null, null, null, null, null, null, (select count(*) from searched)::int, s.failed_at
                 from searched s where $3::uuid is not null order by s.failed_at, s.id limit 1)
                """;
        }
        await using var cmd = db.Command(sql, [.. ps]);
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        var rows = new List<DeadLetterRow>();
        (PagePosition At, int Searched)? edge = null;
        while (await reader.ReadAsync(ct))
        {
            if (!reader.GetBoolean(0))
            {
                edge = (new PagePosition(reader.GetTimestamp(9), reader.GetGuid(1)), reader.GetInt32(8));
                continue;
            }
            rows.Add(new DeadLetterRow(reader.GetGuid(1), reader.GetGuid(2), reader.GetString(3), reader.GetGuid(4), reader.GetGuid(5),
                reader.GetString(6), reader.GetString(7), reader.GetInt32(8), reader.GetTimestamp(9)));
        }
        if (rows.Count > limit)
        {
            rows.RemoveAt(rows.Count - 1);
            return new DeadLetterPage(rows, new PagePosition(rows[^1].FailedAt, rows[^1].Id), false);
        }
        // Fewer than a page matched: the list ended, unless the search stopped at its bound first.
        return edge is { Searched: SearchRows } e ? new DeadLetterPage(rows, e.At, true) : new DeadLetterPage(rows, null, false);
    }

    /// <summary>
    /// The tenant's unretried dead letters (of one job, or all), counted among its first
    /// <see cref="CountRows"/>: past that the count says "at least".
    /// </summary>
    public async Task<DeadLetterCount> CountAsync(Guid tenantId, Guid? jobId, CancellationToken ct)
    {
        await using var cmd = db.Command($"""
            select count(*) filter (where $2::uuid is null or x.job_id = $2), count(*)
            from (select job_id from dead_letters where tenant_id = $1 and retried_execution_id is null limit {CountRows}) x
            """, Sql.P(tenantId), Sql.P(jobId));
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        await reader.ReadAsync(ct);
        return new DeadLetterCount(reader.GetInt64(0), reader.GetInt64(1) >= CountRows);
    }

    /// <summary>The tenant's name and whether it is suspended; null when there is no such tenant.</summary>
    public async Task<(string Name, bool Suspended)?> TenantAsync(Guid tenantId, CancellationToken ct)
    {
        await using var cmd = db.Command("select name, suspended_at is not null from tenants where id = $1", Sql.P(tenantId));
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        return await reader.ReadAsync(ct) ? (reader.GetString(0), reader.GetBoolean(1)) : null;
    }
}
