using System.Text.Json;
using Jobplane.Api;
using Npgsql;

namespace Jobplane.Store.Dashboard;

/// <summary>
/// What the executions list is filtered by. <see cref="JobId"/>, the time range and <see cref="AsOf"/>
/// bound the index range that is read; the others are tested on each row read (see <see cref="Sparse"/>).
/// </summary>
public sealed record ExecutionFilter
{
    /// <summary>Any of these statuses; empty: every status.</summary>
    public IReadOnlyList<string> Statuses { get; init; } = [];
    public Guid? ScheduleId { get; init; }
    /// <summary>Created at or after (inclusive).</summary>
    public DateTimeOffset? CreatedFrom { get; init; }
    /// <summary>Created before (exclusive).</summary>
    public DateTimeOffset? CreatedTo { get; init; }
    /// <summary>A case-insensitive substring of executions.error.</summary>
    public string? ErrorText { get; init; }
    /// <summary>Created at or before (inclusive): a bulk action acts on what its confirmation counted, not on what came since.</summary>
    public DateTimeOffset? AsOf { get; init; }
    /// <summary>Only FAILED executions whose dead letter is not retried yet (what a retry can act on).</summary>
    public bool OnlyRetryable { get; init; }

    /// <summary>True when some rows of the index range read may not match, so a page may need many rows read.</summary>
    public bool Sparse => Statuses.Count > 0 || ScheduleId is not null || ErrorText is not null || OnlyRetryable;
}

/// <summary>
/// Where the executions list reads: one job's executions (executions_job_created_idx), or the
/// executions of one or more tenants (executions_tenant_created_idx, one index range per tenant).
/// </summary>
public sealed record ExecutionSource
{
    public IReadOnlyList<Guid> TenantIds { get; private init; } = [];
    public Guid? JobId { get; private init; }

    public static ExecutionSource Tenants(IReadOnlyList<Guid> tenantIds) => new() { TenantIds = tenantIds };

    /// <summary>One job, of <paramref name="tenantId"/> (the job was found within the viewer's scope).</summary>
    public static ExecutionSource Job(Guid jobId, Guid tenantId) => new() { JobId = jobId, TenantIds = [tenantId] };

    /// <summary>How many index ranges a page reads: one per tenant, or the job's one.</summary>
    public int Ranges => JobId is null ? TenantIds.Count : 1;
}

/// <summary>One row of the executions list (the error cut to its first 300 characters; no result).</summary>
public sealed record ExecutionRow(
    Guid Id, Guid TenantId, string TenantName, Guid JobId, string JobName, string Status, int Priority, int Attempt, int MaxAttempts,
    DateTimeOffset CreatedAt, DateTimeOffset? StartedAt, DateTimeOffset? CompletedAt, string? WorkerId, string? Error, bool ErrorCut,
    Guid? ScheduleId)
{
    public PagePosition Position => new(CreatedAt, Id);
}

/// <summary>
/// A page of the executions list. <see cref="Next"/> is where the next page starts (null: nothing
/// older). When <see cref="StoppedAtBound"/>, the page is not full because the search stopped after
/// reading its bound of rows, not because nothing older matched: the next page goes on searching.
/// </summary>
public sealed record ExecutionScan(IReadOnlyList<ExecutionRow> Rows, PagePosition? Next, bool StoppedAtBound, int Examined);

/// <summary>One execution as its dashboard page shows it.</summary>
public sealed record ExecutionDetail
{
    public required ExecutionRecord Execution { get; init; }
    public required Guid TenantId { get; init; }
    public required string TenantName { get; init; }
    public required bool TenantSuspended { get; init; }
    public string? WorkerId { get; init; }
    public string? TraceParent { get; init; }
    /// <summary>The result pretty-printed, cut to <see cref="ExecutionQueries.MaxResultChars"/> characters.</summary>
    public string? ResultText { get; init; }
    /// <summary>The size of the stored result (its JSON text), in bytes.</summary>
    public long ResultBytes { get; init; }
    /// <summary>The execution's dead letter, when it has one; <see cref="RetriedAs"/> when it was retried.</summary>
    public bool DeadLettered { get; init; }
    public Guid? RetriedAs { get; init; }

    /// <summary>A failed execution whose dead letter is still there and not retried: a retry can take it.</summary>
    public bool Retryable => Execution.Status == ExecutionStatus.Failed && DeadLettered && RetriedAs is null;
}

/// <summary>One row of execution_events.</summary>
public sealed record ExecutionEventRow(long Id, string? FromStatus, string ToStatus, string Kind, int Attempt, string? WorkerId,
    string? Reason, DateTimeOffset At);

/// <summary>An execution a bulk action was asked to act on, with what decides whether it can.</summary>
public sealed record BulkCandidate(Guid Id, Guid TenantId, Guid JobId, string Status, bool CancelRequested, bool Retryable,
    bool TenantSuspended, string Image);

/// <summary>What a bulk action did: the executions it moved (or created, for a retry).</summary>
public sealed record BulkActed(int Acted, IReadOnlyList<Guid> Ids);

/// <summary>
/// The dashboard's reads of executions, and its bulk actions. Every read is scoped in SQL: a tenant
/// viewer's scope is its tenant id, null only for the administrator.
/// <para>Fast on big data: the list reads executions newest first through one index range per
/// source (executions_tenant_created_idx, or executions_job_created_idx for one job), starting at
/// the cursor, and reads at most a bound of rows per range: a filter that matches rarely costs a
/// page at most that many rows, and the page says how far it searched. No count over a tenant's
/// history is ever made.</para>
/// </summary>
public sealed class ExecutionQueries(NpgsqlDataSource db)
{
    /// <summary>The most characters of a result a page shows.</summary>
    public const int MaxResultChars = 256 * 1024;
    /// <summary>Timeline events a page shows at most.</summary>
    public const int MaxEvents = 500;
    /// <summary>Attempts a page shows at most (max_attempts is at most 100; hand-backs add uncharged ones).</summary>
    public const int MaxAttempts = 500;
    /// <summary>Log lines a page shows at most (the newest), and their content's bytes at most.</summary>
    public const int MaxLogLines = 2_000;
    public const long MaxLogBytes = 1024 * 1024;
    /// <summary>A line longer than this many characters is cut on the page (the API has it whole).</summary>
    public const int MaxLogLineChars = 16 * 1024;

    private const string Unfinished =
        $"'{ExecutionStatus.Pending}', '{ExecutionStatus.Scheduled}', '{ExecutionStatus.Retrying}', '{ExecutionStatus.Running}'";

    /// <summary>
    /// A page of executions newest first, strictly after <paramref name="after"/>. Each of the
    /// source's index ranges is read for at most <paramref name="examinePerRange"/> rows past the
    /// cursor (only rows read are tested against the filter), and at most <paramref name="limit"/>
    /// matches are returned.
    /// <para>Several ranges (the administrator's view of several tenants) are merged newest first. A
    /// range that stopped at its bound has read every row of its tenant down to its last row read;
    /// the newest of those stopping points (the cut) is how far every range has been read, so only
    /// matches at or above it are returned, and the next page continues from it. Rows are thus
    /// returned exactly once however the tenants' histories interleave.</para>
    /// </summary>
    public async Task<ExecutionScan> ListAsync(ExecutionSource source, ExecutionFilter filter, PagePosition? after, int limit,
        int examinePerRange, CancellationToken ct)
    {
        var ps = new List<NpgsqlParameter>();
        string Add(NpgsqlParameter p)
        {
            ps.Add(p);
            return "$" + ps.Count.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }
        if (source.TenantIds.Count == 0) return new ExecutionScan([], null, false, 0);
        var sparse = filter.Sparse;
        // Without a filter to test, every row read is a match: a range needs no more rows than a page.
        var per = sparse ? Math.Max(examinePerRange, limit + 1) : limit + 1;

        // The ranges, each bounded by the cursor, the time range and the as-of time: index conditions.
        var from = source.JobId is { } job
            ? $"(select {Add(Sql.P(source.TenantIds[0]))}::uuid as id, {Add(Sql.P(job))}::uuid as job_id) src"
            : $"unnest({Add(Sql.P(source.TenantIds.ToArray()))}::uuid[]) as src(id)";
        var range = new List<string> { source.JobId is null ? "e.tenant_id = src.id" : "e.job_id = src.job_id and e.tenant_id = src.id" };
        if (after is { } a) range.Add($"(e.created_at, e.id) < ({Add(Sql.P((DateTimeOffset?)a.At))}, {Add(Sql.P(a.Id))})");
        if (filter.CreatedFrom is { } f) range.Add($"e.created_at >= {Add(Sql.P((DateTimeOffset?)f))}");
        if (filter.CreatedTo is { } t) range.Add($"e.created_at < {Add(Sql.P((DateTimeOffset?)t))}");
        if (filter.AsOf is { } asOf) range.Add($"e.created_at <= {Add(Sql.P((DateTimeOffset?)asOf))}");
        var rangeSql = string.Join(" and ", range);

        // The row tests: on the rows read only.
        var tests = new List<string>();
        if (filter.Statuses.Count > 0) tests.Add($"s.status = any({Add(Sql.P(filter.Statuses.ToArray()))})");
        if (filter.ScheduleId is { } schedule) tests.Add($"s.schedule_id = {Add(Sql.P(schedule))}");
        if (filter.ErrorText is { } text) tests.Add($"strpos(lower(s.error), lower({Add(Sql.P(text))})) > 0");
        if (filter.OnlyRetryable)
        {
            // One probe of dead_letters' unique execution_id index per failed row read.
            tests.Add($"""
                s.status = '{ExecutionStatus.Failed}'
                and exists (select 1 from dead_letters d where d.execution_id = s.id and d.retried_execution_id is null)
                """);
        }
        var testSql = tests.Count == 0 ? "true" : string.Join(" and ", tests);
        var perSql = Add(Sql.P(per));
        var pageSql = Add(Sql.P(limit + 1));

        // Several ranges with a filter to test: the cut is needed before the page is taken.
        PagePosition? cut = null;
        var cutRead = false;
        if (sparse && source.Ranges > 1)
        {
            cut = await CutAsync(from, rangeSql, perSql, ps, ct);
            cutRead = true;
        }
        var cutSql = "true";
        if (cut is { } c)
        {
            cutSql = $"(x.created_at, x.id) >= ({Add(Sql.P((DateTimeOffset?)c.At))}, {Add(Sql.P(c.Id))})";
        }

        // The inner read is the index range (limit: the bound); the tests run on the rows it yields,
        // which are pulled only until a page of matches is found.
        await using var cmd = db.Command($"""
            select x.id, x.tenant_id, t.name, x.job_id, j.name, x.status, x.priority, x.attempt, x.max_attempts,
                   x.created_at, x.started_at, x.completed_at, x.worker_id, left(x.error, 300), char_length(x.error) > 300, x.schedule_id
            from {from}
            cross join lateral (
                select s.* from (
                    select e.id, e.tenant_id, e.job_id, e.status, e.priority, e.attempt, e.max_attempts, e.created_at,
                           e.started_at, e.completed_at, e.worker_id, e.error, e.schedule_id
                    from executions e
                    where {rangeSql}
                    order by e.created_at desc, e.id desc
                    limit {perSql}
                ) s
                where {testSql}
                order by s.created_at desc, s.id desc
                limit {pageSql}
            ) x
            join jobs j on j.id = x.job_id
            join tenants t on t.id = x.tenant_id
            where {cutSql}
            order by x.created_at desc, x.id desc
            limit {pageSql}
            """, [.. ps]);
        var rows = new List<ExecutionRow>();
        await using (var reader = await cmd.ExecuteReaderAsync(ct))
        {
            while (await reader.ReadAsync(ct))
            {
                rows.Add(new ExecutionRow(reader.GetGuid(0), reader.GetGuid(1), reader.GetString(2), reader.GetGuid(3), reader.GetString(4),
                    reader.GetString(5), reader.GetInt16(6), reader.GetInt32(7), reader.GetInt32(8), reader.GetTimestamp(9),
                    reader.GetTimestampOrNull(10), reader.GetTimestampOrNull(11), reader.GetStringOrNull(12), reader.GetStringOrNull(13),
                    !reader.IsDBNull(14) && reader.GetBoolean(14), reader.IsDBNull(15) ? null : reader.GetGuid(15)));
            }
        }
        var examined = per * source.Ranges;
        if (rows.Count > limit)
        {
            rows.RemoveAt(rows.Count - 1);
            return new ExecutionScan(rows, rows[^1].Position, false, examined);
        }
        // A page not full: every range ran out, or (with a filter to test) some stopped at the bound.
        if (sparse && !cutRead) cut = await CutAsync(from, rangeSql, perSql, ps, ct);
        return new ExecutionScan(rows, cut, cut is not null, examined);
    }

    /// <summary>
    /// The newest of the ranges' stopping points: each range's row number <c>per</c> (the last a
    /// page reads), or nothing when every range has fewer rows. Reads the same index ranges.
    /// </summary>
    private async Task<PagePosition?> CutAsync(string from, string rangeSql, string perSql, List<NpgsqlParameter> ps, CancellationToken ct)
    {
        await using var cmd = db.Command($"""
            select c.created_at, c.id
            from {from}
            cross join lateral (
                select e.created_at, e.id from executions e
                where {rangeSql}
                order by e.created_at desc, e.id desc
                offset {perSql} - 1 limit 1
            ) c
            order by c.created_at desc, c.id desc
            limit 1
            """, [.. ps.Select(p => p.Clone())]);
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        return await reader.ReadAsync(ct) ? new PagePosition(reader.GetTimestamp(0), reader.GetGuid(1)) : null;
    }

    /// <summary>
    /// Tenants for the administrator's unfiltered list: up to <paramref name="max"/> + 1 of them (one
    /// more tells that there are too many to merge), by id.
    /// </summary>
    public async Task<IReadOnlyList<Guid>> TenantIdsAsync(int max, CancellationToken ct)
    {
        await using var cmd = db.Command("select id from tenants order by id limit $1", Sql.P(max + 1));
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        var ids = new List<Guid>();
        while (await reader.ReadAsync(ct)) ids.Add(reader.GetGuid(0));
        return ids;
    }

    /// <summary>The tenant's name, or null when there is no such tenant.</summary>
    public async Task<string?> TenantNameAsync(Guid tenantId, CancellationToken ct)
    {
        await using var cmd = db.Command("select name from tenants where id = $1", Sql.P(tenantId));
        return await cmd.ExecuteScalarAsync(ct) as string;
    }

    /// <summary>
    /// Jobs named <paramref name="name"/> in scope, with their tenants: one probe of
    /// jobs_tenant_name_key per tenant given (a tenant viewer gives its own).
    /// </summary>
    public async Task<IReadOnlyList<(Guid JobId, Guid TenantId)>> JobsNamedAsync(IReadOnlyList<Guid> tenantIds, string name, CancellationToken ct)
    {
        await using var cmd = db.Command("""
            select j.id, j.tenant_id from unnest($1::uuid[]) as t(id) join jobs j on j.tenant_id = t.id and j.name = $2
            order by j.tenant_id limit 100
            """, Sql.P(tenantIds.ToArray()), Sql.P(name));
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        var list = new List<(Guid, Guid)>();
        while (await reader.ReadAsync(ct)) list.Add((reader.GetGuid(0), reader.GetGuid(1)));
        return list;
    }

    /// <summary>The job's tenant and name, when it is in scope (null: any tenant's).</summary>
    public async Task<(Guid TenantId, string Name)?> JobAsync(Guid? scope, Guid jobId, CancellationToken ct)
    {
        await using var cmd = db.Command("select tenant_id, name from jobs where id = $1 and ($2::uuid is null or tenant_id = $2)",
            Sql.P(jobId), Sql.P(scope));
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        return await reader.ReadAsync(ct) ? (reader.GetGuid(0), reader.GetString(1)) : null;
    }

    /// <summary>One execution in scope with what its page shows, or null (not found, or another tenant's).</summary>
    public async Task<ExecutionDetail?> GetAsync(Guid? scope, Guid executionId, CancellationToken ct)
    {
        await using var cmd = db.Command($"""
            select e.id, e.job_id, j.name, e.status, e.priority, e.attempt, e.max_attempts, e.scheduled_at, e.created_at,
                   e.started_at, e.completed_at, e.exit_code, e.error, e.timeout_seconds, e.cancel_requested_at, e.free_attempts,
                   e.schedule_id, e.schedule_due_at,
                   e.tenant_id, t.name, t.suspended_at is not null, e.worker_id, e.trace_parent,
                   left(jsonb_pretty(e.result), $3), coalesce(octet_length(e.result::text), 0),
                   d.id is not null, d.retried_execution_id
            from executions e
            join jobs j on j.id = e.job_id
            join tenants t on t.id = e.tenant_id
            left join dead_letters d on d.execution_id = e.id
            where e.id = $1 and {Scope("e.tenant_id", "$2")}
            """, Sql.P(executionId), Sql.P(scope), Sql.P(MaxResultChars));
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        if (!await reader.ReadAsync(ct)) return null;
        var execution = new ExecutionRecord
        {
            Id = reader.GetGuid(0),
            JobId = reader.GetGuid(1),
            JobName = reader.GetString(2),
            Status = reader.GetString(3),
            Priority = new Priority(reader.GetInt16(4)),
            Attempt = reader.GetInt32(5),
            MaxAttempts = reader.GetInt32(6),
            ScheduledAt = reader.GetTimestamp(7),
            CreatedAt = reader.GetTimestamp(8),
            StartedAt = reader.GetTimestampOrNull(9),
            CompletedAt = reader.GetTimestampOrNull(10),
            ExitCode = reader.GetInt32OrNull(11),
            Error = reader.GetStringOrNull(12),
            TimeoutSeconds = reader.GetInt32(13),
            CancelRequestedAt = reader.GetTimestampOrNull(14),
            HandedBack = reader.GetInt32(15),
            ScheduleId = reader.IsDBNull(16) ? null : reader.GetGuid(16),
            ScheduleDueAt = reader.GetTimestampOrNull(17),
        };
        return new ExecutionDetail
        {
            Execution = execution,
            TenantId = reader.GetGuid(18),
            TenantName = reader.GetString(19),
            TenantSuspended = reader.GetBoolean(20),
            WorkerId = reader.GetStringOrNull(21),
            TraceParent = reader.GetStringOrNull(22),
            ResultText = reader.GetStringOrNull(23),
            ResultBytes = reader.GetInt32(24),
            DeadLettered = reader.GetBoolean(25),
            RetriedAs = reader.IsDBNull(26) ? null : reader.GetGuid(26),
        };
    }

    /// <summary>
    /// The execution's events in order, the first <paramref name="limit"/> + 1 (one more tells that
    /// there are more); execution_events_execution_idx. The caller found the execution in scope.
    /// </summary>
    public async Task<IReadOnlyList<ExecutionEventRow>> EventsAsync(Guid tenantId, Guid executionId, int limit, CancellationToken ct)
    {
        await using var cmd = db.Command("""
            select id, from_status, to_status, kind, attempt, worker_id, reason, at from execution_events
            where execution_id = $1 and tenant_id = $2 order by id limit $3
            """, Sql.P(executionId), Sql.P(tenantId), Sql.P(limit + 1));
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        var list = new List<ExecutionEventRow>();
        while (await reader.ReadAsync(ct))
        {
            list.Add(new ExecutionEventRow(reader.GetInt64(0), reader.GetStringOrNull(1), reader.GetString(2), reader.GetString(3),
                reader.GetInt32(4), reader.GetStringOrNull(5), reader.GetStringOrNull(6), reader.GetTimestamp(7)));
        }
        return list;
    }

    /// <summary>The execution's attempts in order, the first <paramref name="limit"/> + 1 (primary key range).</summary>
    public async Task<IReadOnlyList<AttemptRecord>> AttemptsAsync(Guid executionId, int limit, CancellationToken ct)
    {
        await using var cmd = db.Command("""
            select attempt, worker_id, started_at, ended_at, exit_code, error, outcome
            from execution_attempts where execution_id = $1 order by attempt limit $2
            """, Sql.P(executionId), Sql.P(limit + 1));
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        var list = new List<AttemptRecord>();
        while (await reader.ReadAsync(ct))
        {
            list.Add(new AttemptRecord(reader.GetInt32(0), reader.GetString(1), reader.GetTimestamp(2),
                reader.GetTimestampOrNull(3), reader.GetInt32OrNull(4), reader.GetStringOrNull(5), reader.GetStringOrNull(6)));
        }
        return list;
    }

    /// <summary>
    /// The newest log lines, oldest first: at most <see cref="MaxLogLines"/> lines and, from the
    /// newest back, <see cref="MaxLogBytes"/> of content (the newest line always), each cut to
    /// <see cref="MaxLogLineChars"/> characters (marked). <c>Earlier</c>: older lines exist that are not
    /// shown. execution_logs_execution_idx, read backwards from the end.
    /// </summary>
    public async Task<(IReadOnlyList<LogRecord> Lines, bool Earlier)> TailLogAsync(Guid executionId, CancellationToken ct)
    {
        await using var cmd = db.Command("""
            with tail as (
                select id, stream, created_at,
                       case when char_length(content) > $3 then left(content, $3) || $5 else content end as content,
                       sum(octet_length(content)) over (order by id desc) as running,
                       row_number() over (order by id desc) as n
                from (select id, stream, created_at, content from execution_logs where execution_id = $1 order by id desc limit $2) l
            )
            select id, content, created_at, stream from tail where n < $2 and (n = 1 or running <= $4)
            union all
            select null, null, null, null where (select count(*) from tail) >= $2 or exists (select 1 from tail where n > 1 and running > $4)
            order by 1 nulls first
            """, Sql.P(executionId), Sql.P(MaxLogLines + 1), Sql.P(MaxLogLineChars), Sql.P(MaxLogBytes),
            Sql.P(string.Create(System.Globalization.CultureInfo.InvariantCulture,
                $" … [cut here: the line is longer than {MaxLogLineChars:N0} characters]")));
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        var lines = new List<LogRecord>();
        var earlier = false;
        while (await reader.ReadAsync(ct))
        {
            if (reader.IsDBNull(0))
            {
                earlier = true;
                continue;
            }
            lines.Add(new LogRecord(reader.GetInt64(0), reader.GetString(1), reader.GetTimestamp(2), reader.GetStringOrNull(3)));
        }
        return (lines, earlier);
    }

    /// <summary>
    /// What a log follower needs of an execution in scope: its tenant (whose stream cap it counts
    /// against), that tenant's own cap (tenants.log_follow_max) and its status. Null: not in scope.
    /// </summary>
    public async Task<(Guid TenantId, int? LogFollowMax, string Status)?> FollowTargetAsync(Guid? scope, Guid executionId, CancellationToken ct)
    {
        await using var cmd = db.Command($"""
            select e.tenant_id, t.log_follow_max, e.status from executions e join tenants t on t.id = e.tenant_id
            where e.id = $1 and {Scope("e.tenant_id", "$2")}
            """, Sql.P(executionId), Sql.P(scope));
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        return await reader.ReadAsync(ct) ? (reader.GetGuid(0), reader.GetInt32OrNull(1), reader.GetString(2)) : null;
    }

    /// <summary>
    /// The executions among <paramref name="ids"/> in scope, with what decides whether a cancel or a
    /// retry can take them (primary-key probes). An id missing from the answer is not in scope.
    /// </summary>
    public async Task<IReadOnlyList<BulkCandidate>> CandidatesAsync(Guid? scope, IReadOnlyList<Guid> ids, CancellationToken ct)
    {
        await using var cmd = db.Command($"""
            select e.id, e.tenant_id, e.job_id, e.status, e.cancel_requested_at is not null,
                   d.id is not null and d.retried_execution_id is null, t.suspended_at is not null, j.image
            from executions e
            join jobs j on j.id = e.job_id
            join tenants t on t.id = e.tenant_id
            left join dead_letters d on d.execution_id = e.id
            where e.id = any($1) and {Scope("e.tenant_id", "$2")}
            """, Sql.P(ids.ToArray()), Sql.P(scope));
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        var list = new List<BulkCandidate>();
        while (await reader.ReadAsync(ct))
        {
            list.Add(new BulkCandidate(reader.GetGuid(0), reader.GetGuid(1), reader.GetGuid(2), reader.GetString(3), reader.GetBoolean(4),
                reader.GetBoolean(5), reader.GetBoolean(6), reader.GetString(7)));
        }
        return list;
    }

    /// <summary>
    /// Cancels the unfinished executions among <paramref name="ids"/> in scope, as the API's cancel
    /// does (<see cref="ExecutionStore.CancelAsync"/>: the same locking, decision and writer; a
    /// running one is asked to stop and its worker sees it at its next heartbeat), and records one
    /// audit entry for the whole action in the same transaction. The ids are capped by the caller
    /// (10,000): each statement is one set-based pass over them, far inside the statement timeout,
    /// so the change and its record can share one transaction.
    /// </summary>
    public async Task<BulkActed> CancelAsync(Guid? scope, IReadOnlyList<Guid> ids, ExecutionBulkAudit audit, CancellationToken ct)
    {
        await using var conn = await db.OpenConnectionAsync(ct);
        await using var tx = await conn.BeginTransactionAsync(ct);
        var unfinished = await ExecutionStore.LockForCancelAsync(conn, tx, $"""
            delete from ready_queue where execution_id = any($1) and {Scope("tenant_id", "$2")}
            """, $"id = any($1) and {Scope("tenant_id", "$2")}", ct, Sql.P(ids.ToArray()), Sql.P(scope));
        var moved = await TransitionWriter.ApplyAsync(conn, tx, unfinished, ct);
        await RecordAsync(conn, tx, audit, moved.Count, ct);
        await tx.CommitAsync(ct);
        return new BulkActed(moved.Count, [.. moved]);
    }

    /// <summary>
    /// Retries the dead letters of the failed executions among <paramref name="ids"/> in scope, as
    /// the API's dead-letter retry does (<see cref="ExecutionStore.RetryDeadLettersAsync"/>: a new
    /// PENDING execution of the same job, priority and timeout, first event retried_from_dlq, the
    /// dead letter marked retried; entries being retried by another request at the same moment are
    /// skipped, not doubled), in one statement, with one audit entry in the same transaction. Only
    /// <paramref name="allowedJobs"/> (null: any) are retried: the caller checked their images.
    /// Returns the new executions' ids.
    /// </summary>
    public async Task<BulkActed> RetryAsync(Guid? scope, IReadOnlyList<Guid> ids, IReadOnlyList<Guid>? allowedJobs, string? traceParent,
        ExecutionBulkAudit audit, CancellationToken ct)
    {
        await using var conn = await db.OpenConnectionAsync(ct);
        await using var tx = await conn.BeginTransactionAsync(ct);
        var created = new List<Guid>();
        await using (var cmd = conn.Command($"""
            with picked as (
                select d.id, d.tenant_id, d.job_id, e.priority, e.timeout_seconds
                from dead_letters d
                join executions e on e.id = d.execution_id
                join tenants t on t.id = d.tenant_id
                where d.execution_id = any($1) and {Scope("d.tenant_id", "$2")} and d.retried_execution_id is null
                  and e.status = '{ExecutionStatus.Failed}' and t.suspended_at is null
                  and ($3::uuid[] is null or d.job_id = any($3))
                order by d.failed_at
                for update of d skip locked
            ), fresh as materialized (
                select p.*, gen_random_uuid() as new_id from picked p
            ), made as (
                {TransitionWriter.InsertExecutions}
                select f.new_id, f.tenant_id, f.job_id, '{ExecutionStatus.Pending}', f.priority, f.timeout_seconds, j.max_attempts, now(), $4
                from fresh f join jobs j on j.id = f.job_id
                {TransitionWriter.CreatedColumns}
            ), {TransitionWriter.Created("made", "$5::text")}, marked as (
                update dead_letters d set retried_execution_id = f.new_id from fresh f where d.id = f.id
            )
            select new_id from fresh
            """, tx, Sql.P(ids.ToArray()), Sql.P(scope), Sql.P(allowedJobs?.ToArray()), Sql.P(traceParent), Sql.P(EventKind.RetriedFromDlq.Word())))
        await using (var reader = await cmd.ExecuteReaderAsync(ct))
        {
            while (await reader.ReadAsync(ct)) created.Add(reader.GetGuid(0));
        }
        await RecordAsync(conn, tx, audit, created.Count, ct);
        await tx.CommitAsync(ct);
        return new BulkActed(created.Count, created);
    }

    private static async Task RecordAsync(NpgsqlConnection conn, NpgsqlTransaction tx, ExecutionBulkAudit audit, int acted, CancellationToken ct)
    {
        var details = new Dictionary<string, object?>(audit.Details)
        {
            ["requested"] = audit.Requested,
            ["acted"] = acted,
            ["skipped"] = audit.Requested - acted,
        };
        await using var cmd = conn.Command("insert into audit_log (actor, action, tenant_id, target, details) values ($1, $2, $3, $4, $5)", tx,
            Sql.P(audit.Actor), Sql.P(audit.Action), Sql.P(audit.TenantId), Sql.P(audit.Target), Sql.Json(AuditJson(details)));
        await cmd.ExecuteNonQueryAsync(ct);
    }

    private static string AuditJson(Dictionary<string, object?> details)
    {
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer))
        {
            Write(w, details);
        }
        return System.Text.Encoding.UTF8.GetString(buffer.ToArray());
    }

    private static void Write(Utf8JsonWriter w, object? value)
    {
        switch (value)
        {
            case null: w.WriteNullValue(); break;
            case string s: w.WriteStringValue(s); break;
            case int i: w.WriteNumberValue(i); break;
            case long l: w.WriteNumberValue(l); break;
            case bool b: w.WriteBooleanValue(b); break;
            case Guid g: w.WriteStringValue(g); break;
            case DateTimeOffset d: w.WriteStringValue(d.UtcDateTime); break;
            case IReadOnlyDictionary<string, object?> map:
                w.WriteStartObject();
                foreach (var (k, v) in map)
                {
                    w.WritePropertyName(k);
                    Write(w, v);
                }
                w.WriteEndObject();
                break;
            case System.Collections.IEnumerable items:
                w.WriteStartArray();
                foreach (var item in items) Write(w, item);
                w.WriteEndArray();
                break;
            default: w.WriteStringValue(value.ToString()); break;
        }
    }

    /// <summary>SQL true when <paramref name="column"/> is in the scope parameter <paramref name="scope"/> (null: every tenant).</summary>
    private static string Scope(string column, string scope) => $"({scope}::uuid is null or {column} = {scope})";
}

/// <summary>
/// The audit entry of one bulk action: who, which action (dashboard.bulk_cancel, dashboard.bulk_retry),
/// the tenant it concerns (null: several), how many executions it was asked to act on, and details
/// (the filter, the reasons for skipping); the counts acted and skipped are added by the action.
/// </summary>
public sealed record ExecutionBulkAudit(string Actor, string Action, Guid? TenantId, string? Target, int Requested, IReadOnlyDictionary<string, object?> Details);
