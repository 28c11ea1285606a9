using System.Globalization;
using Jobplane.Api;
using Npgsql;

namespace Jobplane.Store.Schedules;

/// <summary>
/// Fires due schedules. Any number of controllers call <see cref="FireDueAsync"/> at once: each pass
/// locks a batch of due schedules with SKIP LOCKED (so controllers share the work and never fire the
/// same schedule at the same time), plans each one at the database's now (<see cref="FirePlan"/>),
/// and in the same transaction creates the executions, records every due time in schedule_fires
/// (whose unique key on (schedule, due time) makes a second firing of a due time fail rather than
/// run), and advances the schedules. Nothing is acknowledged before that commit.
/// </summary>
public sealed class ScheduleFirer(NpgsqlDataSource db)
{
    /// <summary>The head of the insert of a schedule's executions: <see cref="TransitionWriter.InsertExecutions"/> with the schedule's columns.</summary>
    internal const string InsertExecutions =
        "insert into executions (id, tenant_id, job_id, status, priority, timeout_seconds, max_attempts, scheduled_at, trace_parent, schedule_id, schedule_due_at)";

    private static readonly string[] Unfinished = [ExecutionStatus.Pending, ExecutionStatus.Scheduled, ExecutionStatus.Running, ExecutionStatus.Retrying];

    private const string PickColumns = """
        s.id, s.tenant_id, s.cron, s.interval_seconds, s.time_zone, s.starts_at, s.ends_at, s.misfire, s.catch_up_max, s.overlap,
        s.next_due_at, s.missed_before, s.queued_due_at, s.last_execution_id, s.created_at, s.idempotency_prefix
        """;

    // Each branch locks inside its own limit (SKIP LOCKED), so a second firer running at the same
    // time takes the next due schedules instead of finding the first ones locked and taking none.
    // The rows are read as they were locked: a firer that committed meanwhile has moved them on,
    // and its version is the one checked and returned.
    private static readonly string PickSql = $"""
        with due as (
            -- A suspended tenant's schedules are left out here, not after the limit: however many
            -- of them are due, they never take the places of other tenants' due schedules.
            select {PickColumns} from schedules s
            where s.paused_at is null and s.next_due_at <= now()
              and not exists (select 1 from tenants t where t.id = s.tenant_id and t.suspended_at is not null)
            order by s.next_due_at
            limit $1
            for update of s skip locked
        ), queued as (
            select {PickColumns} from schedules s left join executions e on e.id = s.last_execution_id
            where s.queued_due_at is not null and s.paused_at is null
              and not exists (select 1 from tenants t where t.id = s.tenant_id and t.suspended_at is not null)
              and (e.id is null or e.status not in ('{string.Join("', '", Unfinished)}'))
            limit $1
            for update of s skip locked
        )
        select *, now() from (select * from due union all select * from queued q where q.id not in (select id from due)) picked
        order by id
        """;

    // One statement for every decision of a pass: idempotency keys, executions (with their queue rows
    // and first events), then the history rows. A fire whose Idempotency-Key is still live (the tenant
    // ran it by hand with that key) creates nothing and is recorded as skipped.
    private static readonly string FireSql = $"""
        with f as (
            select * from unnest($1::uuid[], $2::timestamptz[], $3::text[], $4::uuid[], $5::text[], $6::int[], $7::text[])
                as f(schedule_id, due_at, outcome, execution_id, reason, missed, idem_key)
        ), s as (
            select id, tenant_id, job_id, priority, timeout_seconds from schedules where id = any($1)
        ), keyed as (
            insert into idempotency_keys (tenant_id, key, job_id, execution_id)
            select s.tenant_id, f.idem_key, s.job_id, f.execution_id from f join s on s.id = f.schedule_id
            where f.outcome = 'fired' and f.idem_key is not null
            on conflict (tenant_id, key) do update
                set job_id = excluded.job_id, execution_id = excluded.execution_id, created_at = now()
                where idempotency_keys.created_at < now() - interval '24 hours'
            returning execution_id
        ), ins as (
            {InsertExecutions}
            select f.execution_id, s.tenant_id, s.job_id, '{ExecutionStatus.Pending}', coalesce(s.priority, j.priority),
                   coalesce(s.timeout_seconds, j.timeout_seconds), j.max_attempts, now(), null, f.schedule_id, f.due_at
            from f join s on s.id = f.schedule_id join jobs j on j.id = s.job_id
            where f.outcome = 'fired' and (f.idem_key is null or f.execution_id in (select execution_id from keyed))
            {TransitionWriter.CreatedColumns}
        ), {TransitionWriter.Created("ins", $"'{EventKind.Submitted.Word()}'")},
        fires as (
            insert into schedule_fires (schedule_id, tenant_id, due_at, trigger, outcome, execution_id, reason, missed)
            select f.schedule_id, s.tenant_id, f.due_at, 'schedule',
                   case when f.outcome = 'fired' and ins.id is null then 'skipped' else f.outcome end, ins.id,
                   case when f.outcome = 'fired' and ins.id is null
                        then 'Idempotency-Key ' || f.idem_key || ' already ran an execution within the last 24 hours' else f.reason end,
                   f.missed
            from f join s on s.id = f.schedule_id left join ins on ins.id = f.execution_id
            returning schedule_id, tenant_id, due_at, trigger, outcome, execution_id, reason, missed, fired_at
        ), fire_hooks as (
            {Webhooks.WebhookEvents.ScheduleFires("fires")}
        )
        select f.schedule_id, f.due_at, fires.outcome from f join fires using (schedule_id, due_at)
        """;

    private const string AdvanceSql = """
        update schedules s set next_due_at = a.next_due_at, last_due_at = coalesce(a.last_due_at, s.last_due_at),
            last_execution_id = a.last_execution_id, queued_due_at = a.queued_due_at
        from unnest($1::uuid[], $2::timestamptz[], $3::timestamptz[], $4::uuid[], $5::timestamptz[])
            as a(id, next_due_at, last_due_at, last_execution_id, queued_due_at)
        where s.id = a.id
        """;

    /// <summary>
    /// One pass: fires up to <paramref name="limit"/> due schedules in one transaction. Due times
    /// older than <paramref name="grace"/> at the database's now count as missed (see <see cref="FirePlan"/>).
    /// </summary>
    public async Task<FireReport> FireDueAsync(int limit, TimeSpan grace, CancellationToken ct)
    {
        await using var conn = await db.OpenConnectionAsync(ct);
        await using var tx = await conn.BeginTransactionAsync(ct);
        // From the transaction's now (the executions' created_at) to its commit, when workers can see them.
        var sinceStart = System.Diagnostics.Stopwatch.StartNew();
        var due = new List<(DueSchedule Schedule, Guid TenantId, string? Prefix)>();
        var now = DateTimeOffset.MinValue;
        await using (var cmd = conn.Command(PickSql, tx, Sql.P(limit)))
        await using (var reader = await cmd.ExecuteReaderAsync(ct))
        {
            while (await reader.ReadAsync(ct))
            {
                var createdAt = reader.GetTimestamp(14);
                var definition = new ScheduleDefinition("", Guid.Empty)
                {
                    Cron = reader.GetStringOrNull(2),
                    IntervalSeconds = reader.GetInt32OrNull(3),
                    TimeZone = reader.GetString(4),
                    StartsAt = reader.GetTimestampOrNull(5),
                    EndsAt = reader.GetTimestampOrNull(6),
                };
                var timing = definition.Timing(createdAt, out _);
                now = reader.GetTimestamp(16);
                if (timing is null) continue; // a zone this machine no longer knows: left for a replica that does
                due.Add((new DueSchedule(reader.GetGuid(0), timing, SchedulePolicies.ParseMisfire(reader.GetString(7))!.Value,
                    reader.GetInt32(8), SchedulePolicies.ParseOverlap(reader.GetString(9))!.Value)
                {
                    NextDueAt = reader.GetTimestampOrNull(10),
                    MissedBefore = reader.GetTimestampOrNull(11),
                    QueuedDueAt = reader.GetTimestampOrNull(12),
                    LastExecutionId = reader.IsDBNull(13) ? null : reader.GetGuid(13),
                }, reader.GetGuid(1), reader.GetStringOrNull(15)));
            }
        }
        if (due.Count == 0) return new FireReport(0, 0, 0, 0, 0, 0, []);

        // The overlap policy looks at each schedule's last run: primary-key reads, no index needed.
        var lastIds = due.Where(d => d.Schedule.LastExecutionId is not null).Select(d => d.Schedule.LastExecutionId!.Value).ToArray();
        var status = new Dictionary<Guid, string>();
        if (lastIds.Length > 0)
        {
            await using var cmd = conn.Command("select id, status from executions where id = any($1)", tx, Sql.P(lastIds));
            await using var reader = await cmd.ExecuteReaderAsync(ct);
            while (await reader.ReadAsync(ct)) status[reader.GetGuid(0)] = reader.GetString(1);
        }

        var plans = new List<(DueSchedule Schedule, string? Prefix, FirePlan Plan)>(due.Count);
        foreach (var (schedule, _, prefix) in due)
        {
            var last = schedule.LastExecutionId is { } l && status.TryGetValue(l, out var st) && Unfinished.Contains(st) ? st : null;
            var s = schedule with { LastRunUnfinished = last };
            plans.Add((s, prefix, FirePlan.Make(s, now, grace, Guid.CreateVersion7)));
        }

        // Overlap 'cancel': the previous runs end (or are asked to stop) in this same transaction.
        var cancels = plans.Where(p => p.Plan.CancelExecutionId is not null).Select(p => p.Plan.CancelExecutionId!.Value).Distinct().ToArray();
        var cancelled = 0;
        if (cancels.Length > 0)
        {
            var transitions = await ExecutionStore.LockForCancelAsync(conn, tx,
                "delete from ready_queue where execution_id = any($1)", "id = any($1)", ct, Sql.P(cancels));
            transitions = [.. transitions.Select(t => t.Decision.CancelRequestOnly ? t
                : t with { Error = "cancelled by its schedule's overlap policy (cancel): a newer run started" })];
            cancelled = (await TransitionWriter.ApplyAsync(conn, tx, transitions, ct)).Count;
        }

        // Due times queued earlier that fire now: their queued rows make way for the fired ones.
        var dequeued = plans.SelectMany(p => p.Plan.Decisions.Where(d => d.FromQueue).Select(d => (p.Schedule.Id, d.DueAt))).ToList();
        if (dequeued.Count > 0)
        {
            await using var cmd = conn.Command("""
                delete from schedule_fires f using unnest($1::uuid[], $2::timestamptz[]) as q(schedule_id, due_at)
                where f.schedule_id = q.schedule_id and f.due_at = q.due_at and f.trigger = 'schedule' and f.outcome = 'queued'
                """, tx, Sql.P(dequeued.Select(d => d.Id).ToArray()), DueColumn(dequeued.Select(d => d.DueAt)));
            await cmd.ExecuteNonQueryAsync(ct);
        }

        var rows = plans.SelectMany(p => p.Plan.Decisions.Select(d => (p.Schedule.Id, p.Prefix, Decision: d))).ToList();
        var (fired, skipped, queued, missed) = (0, 0, 0, 0);
        var lateness = new List<TimeSpan>();
        if (rows.Count > 0)
        {
            await using var cmd = conn.Command(FireSql, tx,
                Sql.P(rows.Select(r => r.Id).ToArray()), DueColumn(rows.Select(r => r.Decision.DueAt)),
                Sql.P(rows.Select(r => r.Decision.Outcome.Word()).ToArray()),
                new NpgsqlParameter<Guid?[]> { TypedValue = [.. rows.Select(r => r.Decision.ExecutionId)] },
                new NpgsqlParameter<string?[]> { TypedValue = [.. rows.Select(r => r.Decision.Reason)] },
                Sql.P(rows.Select(r => r.Decision.Missed).ToArray()),
                new NpgsqlParameter<string?[]> { TypedValue = [.. rows.Select(r => r.Prefix is null ? null : IdempotencyKey(r.Prefix, r.Decision.DueAt))] });
            var outcomes = new Dictionary<(Guid, DateTimeOffset), string>();
            await using (var reader = await cmd.ExecuteReaderAsync(ct))
            {
                while (await reader.ReadAsync(ct)) outcomes[(reader.GetGuid(0), reader.GetTimestamp(1))] = reader.GetString(2);
            }
            foreach (var (id, _, d) in rows)
            {
                switch (outcomes.GetValueOrDefault((id, d.DueAt)))
                {
                    case "fired":
                        fired++;
                        if (d.OnTime) lateness.Add(now - d.DueAt);
                        break;
                    case "queued":
                        queued++;
                        break;
                    default:
                        skipped++;
                        if (d.Outcome == FireOutcome.Skipped && d.Reason?.StartsWith("missed", StringComparison.Ordinal) == true) missed += d.Missed;
                        break;
                }
            }
        }

        await using (var cmd = conn.Command(AdvanceSql, tx,
            Sql.P(plans.Select(p => p.Schedule.Id).ToArray()),
            NullableDueColumn(plans.Select(p => p.Plan.NextDueAt)),
            NullableDueColumn(plans.Select(p => p.Plan.LastDueAt)),
            new NpgsqlParameter<Guid?[]> { TypedValue = [.. plans.Select(p => p.Plan.LastExecutionId)] },
            NullableDueColumn(plans.Select(p => p.Plan.QueuedDueAt))))
        {
            await cmd.ExecuteNonQueryAsync(ct);
        }
        await tx.CommitAsync(ct);
        var committed = sinceStart.Elapsed;
        return new FireReport(plans.Count, fired, skipped, queued, missed, cancelled, [.. lateness.Select(l => l + committed)]);
    }

    /// <summary>
    /// When the earliest active schedule is next due, and the database's now: how long a firer may
    /// sleep. Null when no schedule is active.
    /// </summary>
    public async Task<(DateTimeOffset? NextDueAt, DateTimeOffset Now)> NextDueAsync(CancellationToken ct)
    {
        // The same schedules a pass would pick: a suspended tenant's due schedules would otherwise
        // keep this in the past, and the firer looking again at once, for as long as the suspension lasts.
        await using var cmd = db.Command("""
            select (select min(s.next_due_at) from schedules s
                    where s.paused_at is null and s.next_due_at is not null
                      and not exists (select 1 from tenants t where t.id = s.tenant_id and t.suspended_at is not null)),
                   now()
            """);
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        await reader.ReadAsync(ct);
        return (reader.GetTimestampOrNull(0), reader.GetTimestamp(1));
    }

    /// <summary>Deletes history rows older than <paramref name="olderThan"/>, at most <paramref name="limit"/>; returns how many.</summary>
    public async Task<int> PruneHistoryAsync(TimeSpan olderThan, int limit, CancellationToken ct)
    {
        await using var cmd = db.Command("""
            delete from schedule_fires where id in (
                select id from schedule_fires where fired_at < now() - make_interval(secs => $1) and outcome <> 'queued'
                order by fired_at limit $2 for update skip locked)
            """, Sql.P(olderThan.TotalSeconds), Sql.P(limit));
        return await cmd.ExecuteNonQueryAsync(ct);
    }

    /// <summary>The Idempotency-Key of the run due at <paramref name="dueAt"/>: the prefix and the due time in RFC 3339, UTC.</summary>
    public static string IdempotencyKey(string prefix, DateTimeOffset dueAt) =>
        prefix + dueAt.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.FFFFFF'Z'", CultureInfo.InvariantCulture);

    private static NpgsqlParameter DueColumn(IEnumerable<DateTimeOffset> values) =>
        new NpgsqlParameter<DateTime[]> { TypedValue = [.. values.Select(v => v.UtcDateTime)] };

    private static NpgsqlParameter NullableDueColumn(IEnumerable<DateTimeOffset?> values) =>
        new NpgsqlParameter<DateTime?[]> { TypedValue = [.. values.Select(v => v?.UtcDateTime)] };
}
