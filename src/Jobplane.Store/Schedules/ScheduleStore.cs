using Jobplane.Api;
using Npgsql;

namespace Jobplane.Store.Schedules;

/// <summary>
/// A tenant's recurring schedules: define, read, change, pause, resume, trigger, delete, and the
/// history of their fires. Scoped by tenant in SQL; every change writes its audit record in the same
/// transaction. Firing lives in <see cref="ScheduleFirer"/>.
/// </summary>
public sealed class ScheduleStore(NpgsqlDataSource db)
{
    internal const string Columns = """
        s.id, s.tenant_id, s.name, s.job_id, j.name, s.cron, s.interval_seconds, s.time_zone, s.starts_at, s.ends_at,
        s.misfire, s.catch_up_max, s.overlap, s.priority, s.timeout_seconds, s.idempotency_prefix,
        s.paused_at, s.next_due_at, s.last_due_at, s.last_execution_id, s.queued_due_at, s.created_at, s.updated_at
        """;

    internal static ScheduleRecord Read(NpgsqlDataReader r) => new(
        r.GetGuid(0), r.GetGuid(1),
        new ScheduleDefinition(r.GetString(2), r.GetGuid(3))
        {
            Cron = r.GetStringOrNull(5),
            IntervalSeconds = r.GetInt32OrNull(6),
            TimeZone = r.GetString(7),
            StartsAt = r.GetTimestampOrNull(8),
            EndsAt = r.GetTimestampOrNull(9),
            Misfire = SchedulePolicies.ParseMisfire(r.GetString(10))!.Value,
            CatchUpMax = r.GetInt32(11),
            Overlap = SchedulePolicies.ParseOverlap(r.GetString(12))!.Value,
            Priority = r.IsDBNull(13) ? null : r.GetInt16(13),
            TimeoutSeconds = r.GetInt32OrNull(14),
            IdempotencyPrefix = r.GetStringOrNull(15),
            Paused = !r.IsDBNull(16),
        },
        r.GetString(4), r.GetTimestamp(21), r.GetTimestamp(22))
    {
        PausedAt = r.GetTimestampOrNull(16),
        NextDueAt = r.GetTimestampOrNull(17),
        LastDueAt = r.GetTimestampOrNull(18),
        LastExecutionId = r.IsDBNull(19) ? null : r.GetGuid(19),
        QueuedDueAt = r.GetTimestampOrNull(20),
    };

    /// <summary>
    /// Creates the schedule, unless the job is not the tenant's, the name is taken, or the tenant
    /// already holds <paramref name="maxPerTenant"/> schedules. The tenant's row is locked first, so
    /// concurrent creations cannot together pass the cap. Its first due time is computed from the
    /// database clock.
    /// </summary>
    public async Task<(ScheduleRecord? Created, ScheduleRefusal Refusal)> CreateAsync(Guid tenantId, ScheduleDefinition definition,
        string actor, int maxPerTenant, CancellationToken ct)
    {
        await using var conn = await db.OpenConnectionAsync(ct);
        await using var tx = await conn.BeginTransactionAsync(ct);
        long count;
        DateTimeOffset now;
        await using (var cmd = conn.Command("""
            select (select count(*) from schedules where tenant_id = $1),
                   exists (select 1 from jobs where id = $2 and tenant_id = $1),
                   exists (select 1 from schedules where tenant_id = $1 and name = $3),
                   now()
            from tenants where id = $1 for no key update
            """, tx, Sql.P(tenantId), Sql.P(definition.JobId), Sql.P(definition.Name)))
        await using (var reader = await cmd.ExecuteReaderAsync(ct))
        {
            if (!await reader.ReadAsync(ct)) return (null, ScheduleRefusal.JobNotFound);
            count = reader.GetInt64(0);
            if (!reader.GetBoolean(1)) return (null, ScheduleRefusal.JobNotFound);
            if (reader.GetBoolean(2)) return (null, ScheduleRefusal.NameTaken);
            now = reader.GetTimestamp(3);
        }
        if (count >= maxPerTenant) return (null, ScheduleRefusal.TooMany);
        var timing = definition.Timing(now, out var problem) ?? throw new ArgumentException(problem, nameof(definition));
        var id = Guid.CreateVersion7();
        await using (var cmd = conn.Command("""
            insert into schedules (id, tenant_id, name, job_id, cron, interval_seconds, time_zone, starts_at, ends_at,
                                   misfire, catch_up_max, overlap, priority, timeout_seconds, idempotency_prefix,
                                   paused_at, next_due_at, created_at, updated_at)
            values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15,
                    case when $16 then now() end, $17, $18, $18)
            """, tx, Sql.P(id), Sql.P(tenantId), Sql.P(definition.Name), Sql.P(definition.JobId), Sql.P(definition.Cron),
            Sql.P(definition.IntervalSeconds), Sql.P(definition.TimeZone), Sql.P(definition.StartsAt), Sql.P(definition.EndsAt),
            Sql.P(definition.Misfire.Word()), Sql.P(definition.CatchUpMax), Sql.P(definition.Overlap.Word()),
            Sql.P(definition.Priority), Sql.P(definition.TimeoutSeconds), Sql.P(definition.IdempotencyPrefix),
            Sql.P(definition.Paused), Sql.P(timing.NextAfter(now)), Sql.P((DateTimeOffset?)now)))
        {
            await cmd.ExecuteNonQueryAsync(ct);
        }
        await AuditAsync(conn, tx, actor, "schedule.create", tenantId, id, definition, ct);
        await tx.CommitAsync(ct);
        return (await GetAsync(tenantId, id, ct), ScheduleRefusal.None);
    }

    /// <summary>The tenant's schedule; null when it is not the tenant's.</summary>
    public async Task<ScheduleRecord?> GetAsync(Guid tenantId, Guid id, CancellationToken ct)
    {
        await using var cmd = db.Command($"""
            select {Columns} from schedules s join jobs j on j.id = s.job_id where s.id = $1 and s.tenant_id = $2
            """, Sql.P(id), Sql.P(tenantId));
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        return await reader.ReadAsync(ct) ? Read(reader) : null;
    }

    /// <summary>The tenant's schedules, newest first (schedules_tenant_created_idx).</summary>
    public async Task<Page<ScheduleRecord>> ListPageAsync(Guid tenantId, PageRequest page, CancellationToken ct)
    {
        List<NpgsqlParameter> ps = [Sql.P(tenantId), Sql.P(page.Limit + 1), Sql.P(page.Offset)];
        var after = Paging.After(page, ps, "s.created_at", "s.id", newestFirst: true);
        await using var cmd = db.Command($"""
            select {Columns} from schedules s join jobs j on j.id = s.job_id
            where s.tenant_id = $1 and {after}
            order by s.created_at desc, s.id desc limit $2 offset $3
            """, [.. ps]);
        return await Paging.ReadAsync(cmd, page.Limit, Read, ct);
    }

    /// <summary>
    /// Replaces the schedule's definition (the caller merged a partial change into the current one).
    /// When the timing changed, the next due time is computed afresh from the database clock: a new
    /// expression has no missed due times. Null when not the tenant's; a refusal when the new job is
    /// not the tenant's or the new name is taken.
    /// </summary>
    public async Task<(ScheduleRecord? Updated, ScheduleRefusal Refusal)> UpdateAsync(Guid tenantId, Guid id, ScheduleDefinition definition,
        string actor, CancellationToken ct)
    {
        await using var conn = await db.OpenConnectionAsync(ct);
        await using var tx = await conn.BeginTransactionAsync(ct);
        var current = await LockAsync(conn, tx, tenantId, id, ct);
        if (current is null) return (null, ScheduleRefusal.None);
        var (record, now) = current.Value;
        await using (var cmd = conn.Command("""
            select exists (select 1 from jobs where id = $2 and tenant_id = $1),
                   exists (select 1 from schedules where tenant_id = $1 and name = $3 and id <> $4)
            """, tx, Sql.P(tenantId), Sql.P(definition.JobId), Sql.P(definition.Name), Sql.P(id)))
        await using (var reader = await cmd.ExecuteReaderAsync(ct))
        {
            await reader.ReadAsync(ct);
            if (!reader.GetBoolean(0)) return (null, ScheduleRefusal.JobNotFound);
            if (reader.GetBoolean(1)) return (null, ScheduleRefusal.NameTaken);
        }
        var old = record.Definition;
        var timingChanged = old.Cron != definition.Cron || old.IntervalSeconds != definition.IntervalSeconds || old.TimeZone != definition.TimeZone
            || old.StartsAt != definition.StartsAt || old.EndsAt != definition.EndsAt;
        var timing = definition.Timing(record.CreatedAt, out var problem) ?? throw new ArgumentException(problem, nameof(definition));
        var next = timingChanged ? timing.NextAfter(now) : record.NextDueAt;
        await using (var cmd = conn.Command("""
            update schedules set name = $3, job_id = $4, cron = $5, interval_seconds = $6, time_zone = $7, starts_at = $8, ends_at = $9,
                misfire = $10, catch_up_max = $11, overlap = $12, priority = $13, timeout_seconds = $14, idempotency_prefix = $15,
                next_due_at = $16, updated_at = now(),
                -- A changed timing starts afresh: nothing it would have fired before now counts as missed.
                missed_before = case when $17 then null else missed_before end
            where id = $1 and tenant_id = $2
            """, tx, Sql.P(id), Sql.P(tenantId), Sql.P(definition.Name), Sql.P(definition.JobId), Sql.P(definition.Cron),
            Sql.P(definition.IntervalSeconds), Sql.P(definition.TimeZone), Sql.P(definition.StartsAt), Sql.P(definition.EndsAt),
            Sql.P(definition.Misfire.Word()), Sql.P(definition.CatchUpMax), Sql.P(definition.Overlap.Word()),
            Sql.P(definition.Priority), Sql.P(definition.TimeoutSeconds), Sql.P(definition.IdempotencyPrefix), Sql.P(next), Sql.P(timingChanged)))
        {
            await cmd.ExecuteNonQueryAsync(ct);
        }
        await AuditAsync(conn, tx, actor, "schedule.update", tenantId, id, definition, ct);
        await tx.CommitAsync(ct);
        return (await GetAsync(tenantId, id, ct), ScheduleRefusal.None);
    }

    /// <summary>Deletes the schedule and its history (its executions stay); false when not the tenant's.</summary>
    public async Task<bool> DeleteAsync(Guid tenantId, Guid id, string actor, CancellationToken ct)
    {
        await using var conn = await db.OpenConnectionAsync(ct);
        await using var tx = await conn.BeginTransactionAsync(ct);
        await using (var cmd = conn.Command("delete from schedules where id = $1 and tenant_id = $2 returning name", tx, Sql.P(id), Sql.P(tenantId)))
        {
            if (await cmd.ExecuteScalarAsync(ct) is not string name) return false;
            await using var audit = conn.Command("""
                insert into audit_log (actor, action, tenant_id, target, details) values ($1, 'schedule.delete', $2, $3, jsonb_build_object('name', $4::text))
                """, tx, Sql.P(actor), Sql.P(tenantId), Sql.P(id.ToString()), Sql.P(name));
            await audit.ExecuteNonQueryAsync(ct);
        }
        await tx.CommitAsync(ct);
        return true;
    }

    /// <summary>
    /// Pauses the schedule: from the commit on, no firer fires it (a firing in progress holds the row
    /// lock, so the pause waits for it and nothing fires after the pause answered). Null when not the tenant's.
    /// </summary>
    public Task<ScheduleRecord?> PauseAsync(Guid tenantId, Guid id, string actor, CancellationToken ct) =>
        SetPausedAsync(tenantId, id, actor, paused: true, ct);

    /// <summary>
    /// Resumes the schedule. Due times that came while it was paused count as missed, so its misfire
    /// policy decides what they do (skip, one catch-up run, or up to catch_up_max runs).
    /// </summary>
    public Task<ScheduleRecord?> ResumeAsync(Guid tenantId, Guid id, string actor, CancellationToken ct) =>
        SetPausedAsync(tenantId, id, actor, paused: false, ct);

    private async Task<ScheduleRecord?> SetPausedAsync(Guid tenantId, Guid id, string actor, bool paused, CancellationToken ct)
    {
        await using var conn = await db.OpenConnectionAsync(ct);
        await using var tx = await conn.BeginTransactionAsync(ct);
        await using (var cmd = conn.Command("""
            with s as (select id, paused_at from schedules where id = $1 and tenant_id = $2 for update),
            changed as (
                update schedules t set paused_at = case when $3 then coalesce(s.paused_at, now()) end,
                    missed_before = case when not $3 and s.paused_at is not null then now() else t.missed_before end
                from s where t.id = s.id
                returning t.id, s.paused_at is not null as was_paused
            ), audit as (
                insert into audit_log (actor, action, tenant_id, target)
                select $4, case when $3 then 'schedule.pause' else 'schedule.resume' end, $2, $1::text
                from changed where changed.was_paused <> $3
            )
            select 1 from changed
            """, tx, Sql.P(id), Sql.P(tenantId), Sql.P(paused), Sql.P(actor)))
        {
            if (await cmd.ExecuteScalarAsync(ct) is null) return null;
        }
        await tx.CommitAsync(ct);
        return await GetAsync(tenantId, id, ct);
    }

    /// <summary>
    /// Runs the schedule's job now, with the schedule's run options, as a manual fire in its history
    /// (paused or not; neither the overlap policy nor the next due time is affected). Null when not the tenant's.
    /// </summary>
    public async Task<(Guid ExecutionId, DateTimeOffset At)?> TriggerAsync(Guid tenantId, Guid id, string actor, CancellationToken ct)
    {
        var executionId = Guid.CreateVersion7();
        await using var conn = await db.OpenConnectionAsync(ct);
        await using var tx = await conn.BeginTransactionAsync(ct);
        await using (var cmd = conn.Command($"""
            with s as (
                select id, tenant_id, job_id, priority, timeout_seconds from schedules where id = $2 and tenant_id = $3 for update
            ), ins as (
                {ScheduleFirer.InsertExecutions}
                select $1, s.tenant_id, s.job_id, '{ExecutionStatus.Pending}', coalesce(s.priority, j.priority),
                       coalesce(s.timeout_seconds, j.timeout_seconds), j.max_attempts, now(), null, s.id, now()
                from s join jobs j on j.id = s.job_id
                {TransitionWriter.CreatedColumns}
            ), {TransitionWriter.Created("ins", $"'{EventKind.Submitted.Word()}'")},
            fire as (
                insert into schedule_fires (schedule_id, tenant_id, due_at, trigger, outcome, execution_id, reason)
                select s.id, s.tenant_id, now(), 'manual', 'fired', ins.id, 'triggered by ' || $4::text from s join ins on true
                returning schedule_id, tenant_id, due_at, trigger, outcome, execution_id, reason, missed, fired_at
            ), fire_hooks as (
                {Webhooks.WebhookEvents.ScheduleFires("fire")}
            ), audit as (
                insert into audit_log (actor, action, tenant_id, target, details)
                select $4, 'schedule.trigger', $3, $2::text, jsonb_build_object('execution_id', ins.id) from ins
            )
            select now() from ins
            """, tx, Sql.P(executionId), Sql.P(id), Sql.P(tenantId), Sql.P(actor)))
        {
            if (await cmd.ExecuteScalarAsync(ct) is not DateTime at) return null;
            await tx.CommitAsync(ct);
            return (executionId, new DateTimeOffset(DateTime.SpecifyKind(at, DateTimeKind.Utc)));
        }
    }

    /// <summary>
    /// The schedule's fires, newest first, before a history id (keyset); with each execution's
    /// current status. Null when the schedule is not the tenant's.
    /// </summary>
    public async Task<(IReadOnlyList<ScheduleFireRecord> Items, bool More)?> HistoryAsync(Guid tenantId, Guid id, long? beforeId, int limit,
        CancellationToken ct)
    {
        await using var conn = await db.OpenConnectionAsync(ct);
        await using (var exists = conn.Command("select 1 from schedules where id = $1 and tenant_id = $2", null, Sql.P(id), Sql.P(tenantId)))
        {
            if (await exists.ExecuteScalarAsync(ct) is null) return null;
        }
        await using var cmd = conn.Command("""
            select f.id, f.due_at, f.trigger, f.outcome, f.execution_id, e.status, f.reason, f.missed, f.fired_at
            from schedule_fires f left join executions e on e.id = f.execution_id and e.tenant_id = f.tenant_id
            where f.schedule_id = $1 and f.tenant_id = $2 and ($3::bigint is null or f.id < $3)
            order by f.id desc limit $4
            """, null, Sql.P(id), Sql.P(tenantId), Sql.P(beforeId), Sql.P(limit + 1));
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        var list = new List<ScheduleFireRecord>();
        while (await reader.ReadAsync(ct))
        {
            list.Add(new ScheduleFireRecord(reader.GetInt64(0), reader.GetTimestamp(1), reader.GetString(2),
                SchedulePolicies.ParseOutcome(reader.GetString(3)), reader.IsDBNull(4) ? null : reader.GetGuid(4),
                reader.GetStringOrNull(5), reader.GetStringOrNull(6), reader.GetInt32(7), reader.GetTimestamp(8)));
        }
        var more = list.Count > limit;
        if (more) list.RemoveAt(list.Count - 1);
        return (list, more);
    }

    private static async Task<(ScheduleRecord Record, DateTimeOffset Now)?> LockAsync(NpgsqlConnection conn, NpgsqlTransaction tx,
        Guid tenantId, Guid id, CancellationToken ct)
    {
        await using var cmd = conn.Command($"""
            select {Columns}, now() from schedules s join jobs j on j.id = s.job_id
            where s.id = $1 and s.tenant_id = $2 for update of s
            """, tx, Sql.P(id), Sql.P(tenantId));
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        if (!await reader.ReadAsync(ct)) return null;
        return (Read(reader), reader.GetTimestamp(23));
    }

    private static async Task AuditAsync(NpgsqlConnection conn, NpgsqlTransaction tx, string actor, string action, Guid tenantId, Guid id,
        ScheduleDefinition d, CancellationToken ct)
    {
        await using var cmd = conn.Command("""
            insert into audit_log (actor, action, tenant_id, target, details)
            values ($1, $2, $3, $4, jsonb_strip_nulls(jsonb_build_object('name', $5::text, 'job_id', $6::uuid, 'cron', $7::text,
                'interval_seconds', $8::int, 'time_zone', $9::text, 'misfire', $10::text, 'overlap', $11::text)))
            """, tx, Sql.P(actor), Sql.P(action), Sql.P(tenantId), Sql.P(id.ToString()), Sql.P(d.Name), Sql.P(d.JobId), Sql.P(d.Cron),
            Sql.P(d.IntervalSeconds), Sql.P(d.TimeZone), Sql.P(d.Misfire.Word()), Sql.P(d.Overlap.Word()));
        await cmd.ExecuteNonQueryAsync(ct);
    }
}
