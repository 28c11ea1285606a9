using System.Text.Json;
using Jobplane.Api;
using Npgsql;

namespace Jobplane.Store;

public sealed partial class ExecutionStore
{
    private const string Columns = """
        e.id, e.job_id, j.name, e.status, e.priority, e.attempt, e.max_attempts, e.scheduled_at, e.created_at,
        e.started_at, e.completed_at, e.exit_code, e.error, e.result::text, e.timeout_seconds, e.cancel_requested_at, e.free_attempts,
        e.schedule_id, e.schedule_due_at
        """;

    /// <summary><see cref="Columns"/> without the result: the database never sends it for a list.</summary>
    private const string ListColumns = """
        e.id, e.job_id, j.name, e.status, e.priority, e.attempt, e.max_attempts, e.scheduled_at, e.created_at,
        e.started_at, e.completed_at, e.exit_code, e.error, null::text, e.timeout_seconds, e.cancel_requested_at, e.free_attempts,
        e.schedule_id, e.schedule_due_at
        """;

    public async Task<ExecutionRecord?> GetAsync(Guid tenantId, Guid executionId, CancellationToken ct)
    {
        ExecutionRecord? view;
        await using (var cmd = db.Command($"""
            select {Columns} from executions e join jobs j on j.id = e.job_id
            where e.id = $1 and e.tenant_id = $2
            """, Sql.P(executionId), Sql.P(tenantId)))
        await using (var reader = await cmd.ExecuteReaderAsync(ct))
        {
            view = await reader.ReadAsync(ct) ? Read(reader) : null;
        }
        if (view is null) return null;

        var attempts = new List<AttemptRecord>();
        await using (var cmd = db.Command("""
            select attempt, worker_id, started_at, ended_at, exit_code, error, outcome
            from execution_attempts where execution_id = $1 order by attempt
            """, Sql.P(executionId)))
        await using (var reader = await cmd.ExecuteReaderAsync(ct))
        {
            while (await reader.ReadAsync(ct))
            {
                attempts.Add(new AttemptRecord(reader.GetInt32(0), reader.GetString(1), reader.GetTimestamp(2),
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
    public async Task<Page<ExecutionRecord>> ListPageAsync(
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
    public async Task<IReadOnlyList<LogRecord>> ReadLogsAsync(Guid executionId, long afterId, int limit, CancellationToken ct)
    {
        await using var cmd = db.Command("""
            select id, content, created_at, stream from execution_logs
            where execution_id = $1 and id > $2 order by id limit $3
            """, Sql.P(executionId), Sql.P(afterId), Sql.P(limit));
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        var list = new List<LogRecord>();
        while (await reader.ReadAsync(ct))
            list.Add(new LogRecord(reader.GetInt64(0), reader.GetString(1), reader.GetTimestamp(2), reader.GetStringOrNull(3)));
        return list;
    }

    /// <summary>
    /// A page of log lines after <paramref name="afterId"/>: at most <paramref name="limit"/> lines,
    /// and lines only while their content adds up to at most <paramref name="maxBytes"/> (UTF-8),
    /// except that the first line always comes so that a client paging with after_id progresses.
    /// The budget is applied in the database, from each line's stored size: the lines past it are
    /// never sent to the controller. Served by execution_logs_execution_idx.
    /// </summary>
    public async Task<IReadOnlyList<LogRecord>> ReadLogPageAsync(Guid executionId, long afterId, int limit, long maxBytes, CancellationToken ct)
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
        var list = new List<LogRecord>();
        while (await reader.ReadAsync(ct))
            list.Add(new LogRecord(reader.GetInt64(0), reader.GetString(1), reader.GetTimestamp(2), reader.GetStringOrNull(3)));
        return list;
    }

    private static ExecutionRecord Read(NpgsqlDataReader r) => new()
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
        ScheduleId = r.IsDBNull(17) ? null : r.GetGuid(17),
        ScheduleDueAt = r.GetTimestampOrNull(18),
    };

    private static JsonElement ParseJson(string json)
    {
        using var doc = JsonDocument.Parse(json);
        return doc.RootElement.Clone();
    }
}
