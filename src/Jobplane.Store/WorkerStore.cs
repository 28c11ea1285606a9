using Jobplane.Api;
using Npgsql;

namespace Jobplane.Store;

/// <summary>
/// Workers the controller heard from recently and what they announced they can run: read to tell a
/// tenant what a waiting execution waits for, and by the claim only for the fleet's slots (the sum
/// of their announced slot counts, which sizes each tenant's fair share of the fleet).
/// </summary>
public sealed class WorkerStore(NpgsqlDataSource db)
{
    /// <summary>A worker counts as connected when it was heard from this recently (by the database clock).</summary>
    public static readonly TimeSpan Recent = TimeSpan.FromSeconds(60);

    /// <summary>
    /// The fleet's slots: the sum of the slots announced by workers seen within <see cref="Recent"/>
    /// (its seconds are parameter $<paramref name="p"/>); 0 when none announced. Served by
    /// workers_seen_idx, or a scan of the small table: one row per worker seen in the last day.
    /// </summary>
    internal static string FleetSlotsSql(int p) =>
        $"select coalesce(sum(w.slots), 0) from workers w where w.seen_at > now() - make_interval(secs => ${p})";

    /// <summary>
    /// Records (or refreshes) what a worker announced, and the version it named (null: none or not
    /// readable). One primary-key upsert; callers throttle it. first_seen_at is set by the insert only.
    /// </summary>
    public async Task UpsertAsync(string workerId, string? runtime, WorkerGrants grants, Guid[]? tenantIds, string? version, CancellationToken ct)
    {
        await using var cmd = db.Command("""
            insert into workers (worker_id, runtime, runtime_classes, network, run_as_root, max_memory_mib, max_cpus, max_pids, tenant_ids,
                                 slots, version, seen_at)
            values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, now())
            on conflict (worker_id) do update set runtime = excluded.runtime, runtime_classes = excluded.runtime_classes,
                network = excluded.network, run_as_root = excluded.run_as_root, max_memory_mib = excluded.max_memory_mib,
                max_cpus = excluded.max_cpus, max_pids = excluded.max_pids, tenant_ids = excluded.tenant_ids,
                slots = excluded.slots, version = excluded.version, seen_at = now()
            """, Sql.P(workerId), Sql.P(runtime), Sql.P(grants.ClassArray), Sql.P(grants.Network), Sql.P(grants.RunAsRoot),
            Sql.P(grants.MaxMemoryMib), Sql.P(grants.MaxCpus), Sql.P(grants.MaxPids), Sql.P(tenantIds), Sql.P(grants.Slots), Sql.P(version));
        await cmd.ExecuteNonQueryAsync(ct);
    }

    /// <summary>
    /// Marks a worker as still connected, keeping what it last announced: a worker whose slots are all
    /// busy does not dequeue, but heartbeats. Only while it runs one of <paramref name="heldExecutionIds"/>
    /// under that name: a heartbeat names its worker freely, and must not keep another (gone) worker
    /// counted as connected. One primary-key update and at most that many primary-key probes; callers throttle it.
    /// </summary>
    public async Task TouchAsync(string workerId, IReadOnlyCollection<Guid> heldExecutionIds, CancellationToken ct)
    {
        await using var cmd = db.Command($"""
            update workers set seen_at = now()
            where worker_id = $1
              and exists (select 1 from executions e where e.id = any($2) and e.worker_id = $1 and e.status = '{ExecutionStatus.Running}')
            """, Sql.P(workerId), Sql.P(heldExecutionIds.ToArray()));
        await cmd.ExecuteNonQueryAsync(ct);
    }

    /// <summary>Forgets workers not heard from for a day; served by workers_seen_idx.</summary>
    public async Task<int> ForgetGoneAsync(CancellationToken ct)
    {
        await using var cmd = db.Command("delete from workers where seen_at < now() - interval '1 day'");
        return await cmd.ExecuteNonQueryAsync(ct);
    }

    /// <summary>
    /// What a PENDING execution of the tenant waits for, when no recently seen worker could run it:
    /// the first of its needs (class, a runtime its tenant allows, network, root, resources) that no
    /// such worker meets; null when one could (or the execution is not the tenant's PENDING one).
    /// Cost: two primary-key probes and a scan of the workers seen in the last minute (workers_seen_idx).
    /// </summary>
    public async Task<string?> WaitingForAsync(Guid tenantId, Guid executionId, CancellationToken ct)
    {
        await using var cmd = db.Command($"""
            with x as (
                select case when j.image = 'exec' then 'exec' else 'container' end as class,
                       j.network and t.allow_network as network, j.run_as_root,
                       (j.memory_limit_bytes >> 20)::integer as memory_mib, j.cpu_limit, j.pids_limit, t.allowed_runtimes
                from executions e join jobs j on j.id = e.job_id join tenants t on t.id = e.tenant_id
                where e.id = $1 and e.tenant_id = $2 and e.status = '{ExecutionStatus.Pending}'
            ), w as (
                select w.*, x.class = any(w.runtime_classes) as c1,
                       (x.allowed_runtimes is null or w.runtime is null or w.runtime = any(x.allowed_runtimes)) as c2,
                       (not x.network or w.network is not false) as c3,
                       (not x.run_as_root or w.run_as_root is not false) as c4,
                       (x.memory_mib is null or w.max_memory_mib is null or x.memory_mib <= w.max_memory_mib)
                       and (x.cpu_limit is null or w.max_cpus is null or x.cpu_limit <= w.max_cpus)
                       and (x.pids_limit is null or w.max_pids is null or x.pids_limit <= w.max_pids) as c5
                from workers w, x
                where w.seen_at > now() - make_interval(secs => $3)
                  and (w.tenant_ids is null or $2 = any(w.tenant_ids))
            )
            select x.class, x.allowed_runtimes, x.memory_mib, x.cpu_limit, x.pids_limit,
                   (select count(*) from w where c1), (select count(*) from w where c1 and c2),
                   (select count(*) from w where c1 and c2 and c3), (select count(*) from w where c1 and c2 and c3 and c4),
                   (select count(*) from w where c1 and c2 and c3 and c4 and c5)
            from x
            """, Sql.P(executionId), Sql.P(tenantId), Sql.P(Recent.TotalSeconds));
        await using var r = await cmd.ExecuteReaderAsync(ct);
        if (!await r.ReadAsync(ct)) return null;
        var exec = r.GetString(0) == RuntimeClasses.Exec;
        if (r.GetInt64(5) == 0)
        {
            return exec
                ? "a worker with the exec runtime (no connected worker has one)"
                : "a worker with a container runtime (no connected worker has one)";
        }
        if (r.GetInt64(6) == 0)
        {
            var allowed = r.IsDBNull(1) ? "any" : string.Join(", ", r.GetFieldValue<string[]>(1));
            return $"a worker with a runtime this tenant allows ({allowed}); no connected worker has one";
        }
        if (r.GetInt64(7) == 0) return "a worker that grants network";
        if (r.GetInt64(8) == 0) return "a worker that allows running as root";
        if (r.GetInt64(9) == 0)
        {
            var asks = new List<string>();
            if (!r.IsDBNull(2)) asks.Add($"{r.GetInt32(2)} MiB of memory");
            if (!r.IsDBNull(3)) asks.Add(string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{r.GetDouble(3)} CPUs"));
            if (!r.IsDBNull(4)) asks.Add($"{r.GetInt64(4)} processes");
            return $"a worker that grants {string.Join(", ", asks)}";
        }
        return null;
    }
}
