using Jobplane.Api;
using Npgsql;

namespace Jobplane.Store;

public sealed partial class QueueStore
{
    // Candidate tenants one claim considers, lowest virtual time first.
    private const int MaxCandidateTenants = 64;

    // Rows this store's claims took out of ready_queue since it last vacuumed the table.
    private long _claimedSinceVacuum;

    /// <summary>
    /// Claims up to <paramref name="limit"/> ready executions, shared fairly between tenants with
    /// ready work (<see cref="FairShare"/>), within each tenant by priority then due time; never more
    /// of a tenant's executions than its max_concurrent_executions allows to run at once; none of a
    /// suspended tenant's, and none of a tenant that does not allow <paramref name="runtime"/>.
    /// Only executions <paramref name="grants"/> fit are claimed: of a runtime class the worker runs,
    /// and asking for no network, root or resources it cannot grant.
    /// <para>Fleet share: while another tenant of this claim has ready work this worker can run, a
    /// tenant gets new slots only while it runs fewer than max(1, floor(f x S)) executions, where S is
    /// the sum of the slots announced by workers seen within <see cref="WorkerStore.Recent"/> and f
    /// the tenant's max_fleet_share, or <paramref name="maxFleetShare"/> when it has none. Slots left
    /// once every such tenant is at its cap go by stride regardless. S = 0 (no worker announced its
    /// slots) or f = 1: no cap. Nothing running is stopped: the cap steers new claims only.</para>
    /// <para>Cost: the sum of the slots of the workers seen in the last minute, before the lock is
    /// taken (one row per connected worker); one walk of the active tenants in virtual-time order
    /// (tenant_sched_active_idx) until 64 eligible ones are found, where each tenant costs one probe
    /// of ready_queue (for the worker's class: ready_queue_route_claim_idx) and, if capped, a count
    /// of its running executions (at most its cap); when two or more are eligible, a count of each
    /// one's ready rows up to the batch (what splits the batch); only when two or more tenants are eligible and
    /// workers announced slots, one more statement (a round trip under the lock) counting each
    /// eligible tenant's running executions up to its share cap + 1 (execution_attempts_open_idx: its open attempts),
    /// so at most about S + 64 index entries in all; then one index range scan per served tenant and
    /// class (ready_queue_route_claim_idx, so container rows cost an exec worker nothing). Rows of the
    /// class that ask for more than the worker grants are filtered, not indexed: they are walked
    /// past. It grows with the number of active tenants skipped (suspended, at their cap), the batch
    /// size and, when tenants compete, the fleet's busy slots; only logarithmically with the
    /// backlog: scheduled runs and retries are not in ready_queue at all. Measured in
    /// bench/RESULTS.md.</para>
    /// </summary>
    public async Task<IReadOnlyList<ClaimedAttempt>> ClaimAsync(
        int limit, string workerId, Guid[]? tenantIds, TimeSpan lease, CancellationToken ct, string? runtime = null,
        WorkerGrants? grants = null, double maxFleetShare = FairShare.DefaultMaxFleetShare)
    {
        grants ??= WorkerGrants.Any;
        await using var conn = await db.OpenConnectionAsync(ct);
        await using var tx = await conn.BeginTransactionAsync(ct);
        var candidates = new List<FairShare.Candidate>();
        var allowNetwork = new List<bool>();
        var fits = Routing.Fits(5, "t.allow_network");
        var fractions = new List<double>();
        var cappedRunning = new List<long?>();
        long fleetSlots;
        await using (var batch = new NpgsqlBatch(conn, tx))
        {
            // The fleet's slots, read before the lock is taken: a worker that announced itself a
            // moment later changes nothing that matters, and the claim holds the lock no longer for it.
            // Its plan never depends on its parameter, so it is made before the claim asks for custom plans.
            batch.BatchCommands.Add(Sql.BatchCommand(WorkerStore.FleetSlotsSql(1), Sql.P(WorkerStore.Recent.TotalSeconds)));
            // From here on every statement of the claim is planned for its own parameters (the tenants
            // with work, the batch): Sql.CustomPlans says why.
            batch.BatchCommands.Add(new NpgsqlBatchCommand(Sql.CustomPlans));
            // Claims are serialised by one transaction-scoped advisory lock, across all replicas. That is
            // what makes concurrency caps exact (a claim counts a tenant's running executions after every
            // earlier claim has committed) and the fair split consistent. A claim takes a batch, so one
            // claim at a time still moves tens of thousands of executions per second (see bench/).
            batch.BatchCommands.Add(Sql.BatchCommand("select pg_advisory_xact_lock($1, $2)", Sql.P(LockKeys.Queue), Sql.P(LockKeys.ClaimSlot)));
            // A new statement, so a new snapshot: it sees every claim that committed before the lock was granted.
            // Only ready rows this worker can run count: a tenant whose ready work is all of another
            // class (or asks for what this worker cannot grant) is passed over, and costs one more
            // probe of ready_queue_route_claim_idx (plus a walk past the rows that do not fit); nor
            // does it hold other tenants to their fleet share on this worker.
            // A tenant's ready rows (up to a batch) are counted only when two or more tenants are
            // candidates: they decide how the batch is split. A lone candidate's share is the batch
            // (or its headroom) either way, and the claim's scan stops at the rows there are; the count
            // would walk the same head of its queue, and the dead entries claims left there, once more
            // under the lock. The window sees at most $4 rows: it is taken over the limited walk.
            batch.BatchCommands.Add(Sql.BatchCommand($"""
                select c.tenant_id, c.vtime, c.weight, c.headroom,
                       case when count(*) over () > 1
                            then (select count(*) from (select 1 from ready_queue q where q.tenant_id = c.tenant_id and {Routing.Fits(5, "c.allow_network")} limit $2) x)
                            else $2 end,
                       c.allow_network, c.running, c.max_fleet_share
                from (
                select s.tenant_id, s.vtime, t.weight,
                       case when t.max_concurrent_executions > 0 then t.max_concurrent_executions - r.running else $2 end as headroom,
                       t.allow_network,
                       case when t.max_concurrent_executions > 0 then r.running end as running,
                       coalesce(t.max_fleet_share, $11) as max_fleet_share
                from tenant_sched s
                join tenants t on t.id = s.tenant_id
                cross join lateral (
                    select case when t.max_concurrent_executions > 0 then (
                        select count(*) from execution_attempts a where a.tenant_id = s.tenant_id and a.ended_at is null)
                    else 0 end as running
                ) r
                where s.active
                  and t.suspended_at is null
                  and ($1::uuid[] is null or s.tenant_id = any($1))
                  and (t.allowed_runtimes is null or $3 = any(t.allowed_runtimes))
                  and (t.max_concurrent_executions = 0 or r.running < t.max_concurrent_executions)
                  and exists (select 1 from ready_queue q where q.tenant_id = s.tenant_id and {fits})
                order by s.vtime, s.tenant_id
                limit $4
                ) c
                order by c.vtime, c.tenant_id
                """, [Sql.P(tenantIds), Sql.P(limit), Sql.P(runtime), Sql.P(MaxCandidateTenants), .. Routing.Parameters(grants),
                    Sql.P(maxFleetShare)]));
            await using var reader = await batch.ExecuteReaderAsync(ct);
            await reader.ReadAsync(ct);
            fleetSlots = reader.GetInt64(0);
            await Sql.NextRowsAsync(reader, ct); // past the plan mode, to the lock's
            await Sql.NextRowsAsync(reader, ct); // the candidates
            while (await reader.ReadAsync(ct))
            {
                var headroom = reader.GetInt64(3);
                var ready = reader.GetInt64(4);
                candidates.Add(new FairShare.Candidate(reader.GetGuid(0), reader.GetDouble(1), reader.GetInt32(2),
                    (int)Math.Min(headroom, ready)));
                allowNetwork.Add(reader.GetBoolean(5));
                cappedRunning.Add(reader.IsDBNull(6) ? null : reader.GetInt64(6));
                fractions.Add(reader.GetDouble(7));
            }
        }
        // Share caps bind only between tenants, so a lone candidate costs nothing more.
        if (candidates.Count >= 2 && fleetSlots > 0)
            await ApplyShareCapsAsync(conn, tx, candidates, fractions, cappedRunning, fleetSlots, ct);
        if (candidates.Count == 0)
        {
            await tx.CommitAsync(ct);
            return [];
        }

        var shares = FairShare.Allocate(candidates, limit);
        var served = Enumerable.Range(0, candidates.Count).Where(i => shares[i] > 0).ToArray();
        // The water level after this claim: where a tenant that becomes active now should start.
        var level = candidates.Select((c, i) => c.VirtualTime + (double)shares[i] / c.Weight).Min();
        var list = new List<ClaimedAttempt>();
        await using (var cmd = conn.Command($"""
            with quota as (
                select * from unnest($5::uuid[], $6::int[], $7::int[], $8::boolean[]) as q(tenant_id, n, weight, allow_network)
            ), picked as (
                select r.execution_id
                from quota cross join lateral (
                    -- One index range scan per class the worker runs (one, but for a benchmarking
                    -- worker), merged: within a tenant and class the index order is the claim order.
                    select c.execution_id
                    from unnest($9::text[]) as k(runtime_class) cross join lateral (
                        select q.execution_id, q.priority, q.ready_at
                        from ready_queue q
                        where q.tenant_id = quota.tenant_id and q.runtime_class = k.runtime_class
                          and {Routing.Fits(9, "quota.allow_network")}
                        order by q.priority desc, q.ready_at, q.execution_id
                        limit quota.n
                        for update skip locked
                    ) c
                    order by c.priority desc, c.ready_at, c.execution_id
                    limit quota.n
                ) r
                -- Never cuts anything (the shares add up to at most $3), but tells the planner how
                -- many rows come out: without it, it guesses a tenth of ready_queue and joins the
                -- delete and the update below by scanning all of ready_queue and executions, so a
                -- claim costs time in proportion to the backlog instead of to the batch.
                limit $3
            ), popped as (
                delete from ready_queue q using picked p
                where q.execution_id = p.execution_id
                returning q.execution_id
            ), clock as (
                -- When the claim takes effect, read after its snapshot. now() is fixed when the
                -- statement arrives, which on a busy server can precede the rescue or hand-back that
                -- made the execution claimable: the attempt would appear to start before the previous
                -- one ended, and its lease would be shorter than granted.
                select clock_timestamp() as at
            ), claimed as (
                update executions e set
                    status = '{ExecutionStatus.Running}',
                    attempt = e.attempt + 1,
                    started_at = clock.at,
                    completed_at = null,
                    worker_id = $2,
                    lease_token = gen_random_uuid(),
                    lease_expires_at = clock.at + make_interval(secs => $4)
                from popped p, clock
                where e.id = p.execution_id and e.status = '{ExecutionStatus.Pending}'
                returning e.id, e.tenant_id, e.job_id, e.attempt, e.max_attempts, e.lease_token,
                          e.lease_expires_at, e.timeout_seconds, e.priority, e.started_at,
                          e.trace_parent, e.scheduled_at
            ), recorded as (
                -- The open attempt is what marks the execution running (execution_attempts_open_idx):
                -- no index of executions refers to status or the lease, so the update above is
                -- heap-only (migration 0019).
                insert into execution_attempts (execution_id, attempt, worker_id, lease_token, started_at, tenant_id)
                select id, attempt, $2, lease_token, started_at, tenant_id from claimed
            ), {TransitionWriter.AppendEvents($"""
                    (select id, tenant_id, job_id, '{ExecutionStatus.Pending}' as from_status, '{ExecutionStatus.Running}' as to_status,
                            '{EventKind.Claimed.Word()}' as kind, attempt, $2 as worker_id, null::text as reason
                     from claimed)
                    """)}, charged as (
                -- Each tenant's virtual time advances by what it actually got, over its weight.
                update tenant_sched s set vtime = s.vtime + c.n::float8 / quota.weight
                from (select tenant_id, count(*) as n from claimed group by tenant_id) c
                join quota on quota.tenant_id = c.tenant_id
                where s.tenant_id = c.tenant_id
            ), tick as (
                -- $15, a lone candidate's virtual time: its ready rows were not counted, so its share
                -- ($1's) may be more than it got, and the level is where what it got takes it. A case,
                -- not coalesce: quota has one row only for a lone candidate, and a plan made without
                -- knowing $15 (a generic one) would otherwise read it as a value whatever $15 is.
                update scheduler_clock set vclock = greatest(vclock,
                    case when $15::float8 is null then $1
                         else $15::float8 + (select count(*) from claimed)::float8 / (select weight from quota) end)
            )
            select c.id, c.lease_token, c.attempt, c.max_attempts, c.lease_expires_at,
                   c.job_id, c.tenant_id, j.name, j.image, j.command, c.timeout_seconds, c.priority,
                   c.trace_parent, c.scheduled_at,
                   j.memory_limit_bytes, j.cpu_limit, j.pids_limit,
                   -- Network needs the tenant's permission as it is now, so that revoking it takes
                   -- effect from the next attempt. Only a job asking for network costs the lookup
                   -- (one primary-key probe); the case keeps it from being evaluated for the rest.
                   case when j.network then coalesce((select t.allow_network from tenants t where t.id = c.tenant_id), false)
                        else false end,
                   j.run_as_root
            from claimed c join jobs j on j.id = c.job_id
            order by c.priority desc
            """, tx, [Sql.P(level), Sql.P(workerId), Sql.P(limit), Sql.P(lease.TotalSeconds),
                Sql.P(served.Select(i => candidates[i].TenantId).ToArray()), Sql.P(served.Select(i => shares[i]).ToArray()),
                Sql.P(served.Select(i => candidates[i].Weight).ToArray()), Sql.P(served.Select(i => allowNetwork[i]).ToArray()),
                .. Routing.Parameters(grants), Sql.P(candidates.Count == 1 ? candidates[0].VirtualTime : (double?)null)]))
        await using (var reader = await cmd.ExecuteReaderAsync(ct))
        {
            while (await reader.ReadAsync(ct))
            {
                var payload = new AttemptPayload(reader.GetGuid(5), reader.GetGuid(6), reader.GetString(7),
                    reader.GetString(8), reader.GetFieldValue<string[]>(9), reader.GetInt32(10), new Priority(reader.GetInt16(11)))
                {
                    TraceParent = reader.GetStringOrNull(12),
                    ScheduledAt = reader.GetTimestamp(13),
                    Resources = JobStore.ReadResources(reader, 14),
                    Network = reader.GetBoolean(17),
                    RunAsRoot = reader.GetBoolean(18),
                };
                list.Add(new ClaimedAttempt(reader.GetGuid(0), reader.GetGuid(1), reader.GetInt32(2), reader.GetInt32(3),
                    reader.GetTimestamp(4), payload));
            }
        }
        await tx.CommitAsync(ct);
        Interlocked.Add(ref _claimedSinceVacuum, list.Count);
        return list;
    }

    /// <summary>
    /// Vacuums ready_queue once this store's claims have taken <paramref name="threshold"/> rows out
    /// of it since the last time; returns whether it did. Every claimed row leaves a dead entry in each
    /// of the queue's indexes, at the head of the claim order, and until a vacuum removes them each
    /// probe of a tenant's queue steps over them: after 100,000 claimed rows one probe read 938 pages
    /// instead of 2, and a drain read twice the buffers per job. Autovacuum comes only at its
    /// next round (a minute apart by default), so the controller vacuums the table itself after a burst. SKIP_LOCKED: a
    /// vacuum already running (autovacuum, another replica) is enough; TRUNCATE false: shrinking the file
    /// would take a lock that holds up claims and submissions, and the pages are reused anyway.
    /// </summary>
    public async Task<bool> VacuumReadyQueueAfterChurnAsync(long threshold, CancellationToken ct)
    {
        if (Interlocked.Read(ref _claimedSinceVacuum) < threshold) return false;
        Interlocked.Exchange(ref _claimedSinceVacuum, 0);
        await using var cmd = db.CreateCommand("vacuum (skip_locked, truncate false) ready_queue");
        await cmd.ExecuteNonQueryAsync(ct);
        return true;
    }

    /// <summary>
    /// Gives each candidate its share cap and its running executions. A tenant capped by
    /// max_concurrent_executions was counted exactly already; the others are counted in one statement,
    /// each up to its cap + 1 (execution_attempts_open_idx, an index-only scan once vacuumed): past
    /// the cap the number changes nothing, so a tenant running thousands costs no more than its share.
    /// </summary>
    private static async Task ApplyShareCapsAsync(NpgsqlConnection conn, NpgsqlTransaction tx, List<FairShare.Candidate> candidates,
        List<double> fractions, List<long?> cappedRunning, long fleetSlots, CancellationToken ct)
    {
        var toCount = new List<int>();
        for (var i = 0; i < candidates.Count; i++)
        {
            if (FairShare.ShareCap(fractions[i], fleetSlots) is not { } cap) continue;
            candidates[i] = candidates[i] with { ShareCap = cap };
            if (cappedRunning[i] is { } running) candidates[i] = candidates[i] with { Running = (int)Math.Min(running, cap + 1L) };
            else toCount.Add(i);
        }
        if (toCount.Count == 0) return;
        await using var cmd = conn.Command($"""
            select (select count(*) from (
                select 1 from execution_attempts a where a.tenant_id = u.tenant_id and a.ended_at is null limit u.n) x)
            from unnest($1::uuid[], $2::int[]) with ordinality as u(tenant_id, n, i)
            order by u.i
            """, tx, Sql.P(toCount.Select(i => candidates[i].TenantId).ToArray()),
            Sql.P(toCount.Select(i => candidates[i].ShareCap!.Value + 1).ToArray()));
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        foreach (var i in toCount)
        {
            await reader.ReadAsync(ct);
            candidates[i] = candidates[i] with { Running = (int)reader.GetInt64(0) };
        }
    }
}
