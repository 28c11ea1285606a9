using Jobplane.Store.Schedules;
using Npgsql;

namespace Jobplane.Store.Dashboard;

/// <summary>The newest row of a schedule's history: its last fire (or skip), scheduled or manual.</summary>
public sealed record LastFire(DateTimeOffset FiredAt, DateTimeOffset DueAt, string Trigger, FireOutcome Outcome, Guid? ExecutionId);

/// <summary>A schedule as the schedules pages show it, with its tenant and its last fire.</summary>
public sealed record ScheduleSummary(ScheduleRecord Schedule, string TenantName, bool TenantSuspended, LastFire? Last);

/// <summary>
/// What the dashboard's schedules pages read (changes go through <see cref="ScheduleStore"/>, as the
/// API's do). A tenant's schedules come newest first from schedules_tenant_created_idx (keyset); the
/// administrator's view without a tenant reads each tenant's first page from that index and merges
/// them. Each schedule's last fire is one probe of schedule_fires_history_idx.
/// </summary>
public sealed class ScheduleQueries(NpgsqlDataSource db)
{
    // ScheduleStore.Columns (0..22), then the tenant and the last fire.
    private const string Select = $"""
        select {ScheduleStore.Columns}, t.name, t.suspended_at is not null,
               f.fired_at, f.due_at, f.trigger, f.outcome, f.execution_id
        """;

    private const string Joins = """
        join jobs j on j.id = s.job_id
        join tenants t on t.id = s.tenant_id
        left join lateral (
            select fired_at, due_at, trigger, outcome, execution_id from schedule_fires
            where schedule_id = s.id order by id desc limit 1) f on true
        """;

    /// <summary>One page of schedules, newest first; <paramref name="tenantId"/> null: every tenant's (the administrator).</summary>
    public async Task<Page<ScheduleSummary>> ListAsync(Guid? tenantId, PagePosition? after, int limit, CancellationToken ct)
    {
        List<NpgsqlParameter> ps = [Sql.P(limit + 1)];
        string page;
        if (tenantId is { } tenant)
        {
            ps.Add(Sql.P(tenant));
            var position = Paging.After(new PageRequest(limit, 0, after), ps, "x.created_at", "x.id", newestFirst: true);
            page = $"""
                select x.id, x.created_at from schedules x where x.tenant_id = $2 and {position}
                order by x.created_at desc, x.id desc limit $1
                """;
        }
        else
        {
            var position = Paging.After(new PageRequest(limit, 0, after), ps, "x.created_at", "x.id", newestFirst: true);
            page = $"""
                select xx.id, xx.created_at from tenants t cross join lateral (
                    select x.id, x.created_at from schedules x where x.tenant_id = t.id and {position}
                    order by x.created_at desc, x.id desc limit $1) xx
                order by xx.created_at desc, xx.id desc limit $1
                """;
        }
        await using var cmd = db.Command($"""
            with page as ({page})
            {Select}
            from page p join schedules s on s.id = p.id
            {Joins}
            order by s.created_at desc, s.id desc
            """, [.. ps]);
        return await Paging.ReadAsync(cmd, limit, Read, ct);
    }

    /// <summary>The schedule, when it is in scope (<paramref name="tenantId"/> null: any tenant's); a primary-key probe.</summary>
    public async Task<ScheduleSummary?> GetAsync(Guid? tenantId, Guid id, CancellationToken ct)
    {
        await using var cmd = db.Command($"""
            {Select}
            from schedules s
            {Joins}
            where s.id = $1 {(tenantId is null ? "" : "and s.tenant_id = $2")}
            """, tenantId is { } tenant ? [Sql.P(id), Sql.P(tenant)] : [Sql.P(id)]);
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        return await reader.ReadAsync(ct) ? Read(reader) : null;
    }

    private static ScheduleSummary Read(NpgsqlDataReader r) => new(ScheduleStore.Read(r), r.GetString(23), r.GetBoolean(24),
        r.IsDBNull(25) ? null : new LastFire(r.GetTimestamp(25), r.GetTimestamp(26), r.GetString(27), SchedulePolicies.ParseOutcome(r.GetString(28)),
            r.IsDBNull(29) ? null : r.GetGuid(29)));
}
