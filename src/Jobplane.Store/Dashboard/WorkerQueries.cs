using Jobplane.Api;
using Npgsql;

namespace Jobplane.Store.Dashboard;

/// <summary>One worker of the fleet as the workers page shows it.</summary>
public sealed record FleetWorker
{
    public required string WorkerId { get; init; }
    /// <summary>Null: the worker named none (an older or a benchmarking worker).</summary>
    public string? Runtime { get; init; }
    public required IReadOnlyList<string> RuntimeClasses { get; init; }
    /// <summary>Null in each grant: not announced (not checked).</summary>
    public bool? Network { get; init; }
    public bool? RunAsRoot { get; init; }
    public int? MaxMemoryMib { get; init; }
    public double? MaxCpus { get; init; }
    public int? MaxPids { get; init; }
    /// <summary>It may serve every tenant (its credential and request name none).</summary>
    public required bool ServesAll { get; init; }
    /// <summary>The names of the tenants it serves, for the administrator only; null for a tenant's view.</summary>
    public IReadOnlyList<string>? TenantNames { get; init; }
    /// <summary>Slots it announced; null: it announced none.</summary>
    public int? Slots { get; init; }
    /// <summary>RUNNING executions it holds: every tenant's for the administrator, only the viewer's own for a tenant.</summary>
    public required long SlotsUsed { get; init; }
    public required DateTimeOffset SeenAt { get; init; }
    /// <summary>How long ago it was last heard from, by the database clock.</summary>
    public required TimeSpan SeenAgo { get; init; }
    public required DateTimeOffset FirstSeenAt { get; init; }
    public string? Version { get; init; }
    /// <summary>Not heard from within <see cref="WorkerStore.Recent"/>: no longer counted in the fleet.</summary>
    public required bool Gone { get; init; }
}

/// <summary>The fleet page's rows (connected workers first, then gone ones, each by id), and whether more were left off.</summary>
public sealed record Fleet(IReadOnlyList<FleetWorker> Workers, bool More);

/// <summary>
/// The workers page: the workers table (one row per worker heard from in the last day, so it is as
/// large as the fleet, no more) with each worker's slots in use. Slots in use are counted over
/// RUNNING executions only, which are the open attempts (execution_attempts_open_idx: per tenant for
/// a tenant, all of it for the administrator). They are bounded by the fleet's slots (plus leases of
/// gone workers that have not expired yet), never by the history. Nothing here touches the claim's hot path.
/// </summary>
public sealed class WorkerQueries(NpgsqlDataSource db)
{
    /// <summary>The most workers one page lists; a larger fleet is cut, and the page says so.</summary>
    public const int MaxWorkers = 1000;

    /// <param name="tenantId">
    /// Null: the administrator (every worker, every tenant's usage, tenant names). A tenant sees only
    /// workers that may serve it, and counts of its own executions only: never another tenant's name or usage.
    /// </param>
    public async Task<Fleet> ReadAsync(Guid? tenantId, CancellationToken ct)
    {
        var used = tenantId is null
            ? "select worker_id, count(*) as n from execution_attempts where ended_at is null group by worker_id"
            : "select worker_id, count(*) as n from execution_attempts where tenant_id = $1 and ended_at is null group by worker_id";
        var names = tenantId is null
            ? "(select array_agg(t.name order by t.name) from tenants t where t.id = any(w.tenant_ids))"
            : "null::text[]";
        var visible = tenantId is null ? "true" : "(w.tenant_ids is null or $1 = any(w.tenant_ids))";
        await using var cmd = db.Command($"""
            with used as materialized ({used})
            select w.worker_id, w.runtime, w.runtime_classes, w.network, w.run_as_root, w.max_memory_mib, w.max_cpus, w.max_pids,
                   w.tenant_ids is null, {names}, w.slots, coalesce(u.n, 0), w.seen_at,
                   extract(epoch from now() - w.seen_at)::float8, w.first_seen_at, w.version,
                   w.seen_at <= now() - make_interval(secs => $2)
            from workers w left join used u on u.worker_id = w.worker_id
            where w.seen_at > now() - interval '1 day' and {visible}
            order by w.seen_at <= now() - make_interval(secs => $2), w.worker_id
            limit $3
            """, Sql.P(tenantId), Sql.P(WorkerStore.Recent.TotalSeconds), Sql.P(MaxWorkers + 1));
        var page = await Paging.ReadAsync(cmd, MaxWorkers, r => new FleetWorker
        {
            WorkerId = r.GetString(0),
            Runtime = r.GetStringOrNull(1),
            RuntimeClasses = r.GetFieldValue<string[]>(2),
            Network = r.IsDBNull(3) ? null : r.GetBoolean(3),
            RunAsRoot = r.IsDBNull(4) ? null : r.GetBoolean(4),
            MaxMemoryMib = r.GetInt32OrNull(5),
            MaxCpus = r.IsDBNull(6) ? null : r.GetDouble(6),
            MaxPids = r.GetInt32OrNull(7),
            ServesAll = r.GetBoolean(8),
            TenantNames = r.IsDBNull(9) ? (tenantId is null ? [] : null) : r.GetFieldValue<string[]>(9),
            Slots = r.GetInt32OrNull(10),
            SlotsUsed = r.GetInt64(11),
            SeenAt = r.GetTimestamp(12),
            SeenAgo = TimeSpan.FromSeconds(Math.Max(0, r.GetDouble(13))),
            FirstSeenAt = r.GetTimestamp(14),
            Version = r.GetStringOrNull(15),
            Gone = r.GetBoolean(16),
        }, ct);
        return new Fleet(page.Items, page.More);
    }
}
