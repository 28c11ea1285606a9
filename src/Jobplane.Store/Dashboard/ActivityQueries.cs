using Jobplane.Api;
using Npgsql;

namespace Jobplane.Store.Dashboard;

/// <summary>Executions that finished in a window, in equal buckets, and their pickup latency.</summary>
public sealed record Activity(DateTimeOffset Since, TimeSpan Bucket, IReadOnlyList<Activity.Slot> Slots,
    double? PickupP50Seconds, double? PickupP99Seconds, IReadOnlyList<Activity.TenantTotals> Tenants)
{
    public readonly record struct Slot(DateTimeOffset Start, long Succeeded, long Failed, long Cancelled);

    public readonly record struct TenantTotals(Guid TenantId, long Succeeded, long Failed, long Cancelled);

    public long Succeeded => Slots.Sum(s => s.Succeeded);
    public long Failed => Slots.Sum(s => s.Failed);
    public long Cancelled => Slots.Sum(s => s.Cancelled);
}

/// <summary>
/// What the overview charts: executions that finished in the last hour or day. Every part reads
/// executions_finished_at_idx (tenant, finished_status, finished_at), which holds finished executions only, as
/// one range per tenant and status: the cost grows with what finished in the window, never with the
/// history. The administrator's view walks the tenants and reads each one's ranges the same way.
/// </summary>
public sealed class ActivityQueries(NpgsqlDataSource db)
{
    /// <param name="tenantId">Null: every tenant (the administrator).</param>
    public async Task<Activity> ReadAsync(Guid? tenantId, TimeSpan window, TimeSpan bucket, CancellationToken ct)
    {
        // The rows: one index range per status (and, for the administrator, per tenant), through the
        // generated columns the index holds (finished_status and finished_at are the status and
        // completed_at of a finished execution, null before: see migration 0019).
        // The window's start is written out in each arm, not read from a CTE, so the planner sees its
        // value (a stable expression) and estimates the range instead of guessing a third of the table.
        const string Since = "date_bin(make_interval(secs => $3), now() - make_interval(secs => $2), timestamptz '2000-01-01')";
        var tenant = tenantId is null ? "t.id" : "$1";
        var arms = string.Join("\n    union all\n", new[] { ExecutionStatus.Succeeded, ExecutionStatus.Failed, ExecutionStatus.Cancelled }.Select(status => $"""
                select tenant_id, finished_status as status, finished_at as completed_at, started_at, scheduled_at from executions
                where tenant_id = {tenant} and finished_status = '{status}' and finished_at > {Since}
            """));
        var rows = tenantId is null ? $"select e.* from tenants t cross join lateral ({arms}) e" : arms;
        await using var cmd = db.Command($"""
            with w as (select {Since} as since),
            rows as materialized ({rows}),
            slots as (
                select date_bin(make_interval(secs => $3), completed_at, (select since from w)) as slot,
                       count(*) filter (where status = '{ExecutionStatus.Succeeded}') as ok,
                       count(*) filter (where status = '{ExecutionStatus.Failed}') as failed,
                       count(*) filter (where status = '{ExecutionStatus.Cancelled}') as cancelled
                from rows group by 1
            ), pickup as (
                select percentile_cont(array[0.5, 0.99]) within group (order by extract(epoch from started_at - scheduled_at)) as p
                from rows where started_at is not null and started_at >= scheduled_at
            ), per_tenant as (
                select tenant_id,
                       count(*) filter (where status = '{ExecutionStatus.Succeeded}') as ok,
                       count(*) filter (where status = '{ExecutionStatus.Failed}') as failed,
                       count(*) filter (where status = '{ExecutionStatus.Cancelled}') as cancelled
                from rows group by 1
            )
            select 's', slot, ok, failed, cancelled, null::uuid, null::float8[], (select since from w) from slots
            union all
            select 'p', null, 0, 0, 0, null, (select p from pickup), (select since from w)
            union all
            select 't', null, ok, failed, cancelled, tenant_id, null, null from per_tenant
            """, Sql.P(tenantId), Sql.P(window.TotalSeconds), Sql.P(bucket.TotalSeconds));
        var counts = new Dictionary<DateTimeOffset, Activity.Slot>();
        var tenants = new List<Activity.TenantTotals>();
        DateTimeOffset since = default;
        double? p50 = null, p99 = null;
        await using (var reader = await cmd.ExecuteReaderAsync(ct))
        {
            while (await reader.ReadAsync(ct))
            {
                switch (reader.GetString(0))
                {
                    case "s":
                        var start = reader.GetTimestamp(1);
                        counts[start] = new Activity.Slot(start, reader.GetInt64(2), reader.GetInt64(3), reader.GetInt64(4));
                        since = reader.GetTimestamp(7);
                        break;
                    case "p":
                        since = reader.GetTimestamp(7);
                        if (!reader.IsDBNull(6) && reader.GetFieldValue<double?[]>(6) is [{ } a, { } b]) (p50, p99) = (a, b);
                        break;
                    default:
                        tenants.Add(new Activity.TenantTotals(reader.GetGuid(5), reader.GetInt64(2), reader.GetInt64(3), reader.GetInt64(4)));
                        break;
                }
            }
        }
        // Every bucket of the window, empty ones too, so the chart's time axis is even.
        var slots = new List<Activity.Slot>();
        for (var at = since; slots.Count < 10_000 && at <= since + window; at += bucket)
            slots.Add(counts.TryGetValue(at, out var s) ? s : new Activity.Slot(at, 0, 0, 0));
        return new Activity(since, bucket, slots, p50, p99, tenants);
    }

    /// <summary>Tenants by name (the first <paramref name="limit"/>), with their state: the administrator's per-tenant rows.</summary>
    public async Task<IReadOnlyList<(Guid Id, string Name, bool Suspended)>> TenantsAsync(int limit, CancellationToken ct)
    {
        await using var cmd = db.Command("select id, name, suspended_at is not null from tenants order by name limit $1", Sql.P(limit));
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        var list = new List<(Guid, string, bool)>();
        while (await reader.ReadAsync(ct)) list.Add((reader.GetGuid(0), reader.GetString(1), reader.GetBoolean(2)));
        return list;
    }
}
