using Jobplane.Api;
using Npgsql;

namespace Jobplane.Store;

/// <summary>How a worker says an attempt ended.</summary>
public sealed record AttemptResult(int? ExitCode, string? Error, string? ResultJson, bool Retryable);

/// <summary>
/// How long to wait before retry n (n = attempts charged so far), given the job's own backoff base
/// and cap in seconds (null: the controller's defaults).
/// </summary>
public delegate TimeSpan BackoffPolicy(int failedAttempts, double? baseSeconds, double? maxSeconds);

/// <summary>The status an execution moved to after an attempt's result was accepted.</summary>
/// <summary>
/// How a report was answered: Accepted with the execution's new status, NotFound, LeaseLost, or
/// Refused with the reason (the report cannot be stored as sent; nothing was written and the lease still holds).
/// </summary>
public sealed record CompletionOutcome(LeaseCheck Check, string? Status = null, string? Refused = null);

/// <summary>One attempt's outcome, fenced by the lease token it was claimed with.</summary>
public sealed record Completion(Guid ExecutionId, Guid LeaseToken, AttemptResult Result);

/// <summary>The answer to a log append: whether the lease held, bytes stored of this batch, and whether the execution's log is now full (cut at its cap).</summary>
public sealed record LogAppend(LeaseCheck Check, long StoredBytes, bool LogFull);

/// <summary>
/// The cap on an execution's stored log: the operator's <paramref name="OperatorBytes"/>, unless the
/// execution's tenant has its own (tenants.log_max_bytes_per_execution). Each has its marker line, the
/// last line of a cut log; in <paramref name="TenantMarker"/>, <see cref="LimitPlaceholder"/> stands
/// for the tenant's limit, written as <see cref="ByteSizes.Format"/> writes it.
/// </summary>
public sealed record LogCap(long OperatorBytes, string OperatorMarker, string TenantMarker)
{
    public const string LimitPlaceholder = "{limit}";

    /// <summary>No operator cap (a tenant's own still applies), no markers: tests of other things.</summary>
    public static readonly LogCap None = new(long.MaxValue, "", "");

    /// <summary>
    /// <see cref="ByteSizes.Format"/> in SQL, of the bigint expression <paramref name="bytes"/>: the
    /// marker is written by the statement that finds the tenant's limit, so it is formatted there.
    /// </summary>
    public static string FormatSizeSql(string bytes) => $"""
        case when {bytes} % 1073741824 = 0 then ({bytes} / 1073741824)::text || ' GiB'
             when {bytes} % 1048576 = 0 then ({bytes} / 1048576)::text || ' MiB'
             when {bytes} % 1024 = 0 then ({bytes} / 1024)::text || ' KiB'
             else {bytes}::text || ' bytes' end
        """;
}

/// <summary>
/// The worker side of the queue: claim, heartbeat, logs, results, hand-back, and the maintenance that
/// promotes due work and rescues expired leases. Leases are fenced by lease_token: every call about an
/// attempt names its token, and only the attempt holding the execution's current token is heard.
/// Lease expiry is decided by the database clock (now()), never by a controller's or worker's clock.
/// </summary>
public sealed class QueueStore(NpgsqlDataSource db)
{
    // Candidate tenants one claim considers, lowest virtual time first.
    private const int MaxCandidateTenants = 64;

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
    /// of its running executions (at most its cap); only when two or more tenants are eligible and
    /// workers announced slots, one more statement (a round trip under the lock) counting each
    /// eligible tenant's running executions up to its share cap + 1 (executions_running_tenant_idx),
    /// so at most about S + 64 index entries in all; then one index range scan per served tenant and
    /// class (ready_queue_route_claim_idx, so container rows cost an exec worker nothing). Rows of the
    /// class that ask for more than the worker grants are filtered, not indexed: they are walked
    /// past. It grows with the number of active tenants skipped (suspended, at their cap), the batch
    /// size and, when tenants compete, the fleet's busy slots; only logarithmically with the
    /// backlog: scheduled runs and retries are not in ready_queue at all. Measured in
    /// bench/RESULTS.md.</para>
    /// </summary>
    public async Task<IReadOnlyList<ClaimedExecution>> ClaimAsync(
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
            batch.BatchCommands.Add(Sql.BatchCommand(WorkerStore.FleetSlotsSql(1), Sql.P(WorkerStore.Recent.TotalSeconds)));
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
            batch.BatchCommands.Add(Sql.BatchCommand($"""
                select s.tenant_id, s.vtime, t.weight,
                       case when t.max_concurrent_executions > 0 then t.max_concurrent_executions - r.running else $2 end,
                       (select count(*) from (select 1 from ready_queue q where q.tenant_id = s.tenant_id and {fits} limit $2) x),
                       t.allow_network,
                       case when t.max_concurrent_executions > 0 then r.running end,
                       coalesce(t.max_fleet_share, $11)
                from tenant_sched s
                join tenants t on t.id = s.tenant_id
                cross join lateral (
                    select case when t.max_concurrent_executions > 0 then (
                        select count(*) from executions e where e.tenant_id = s.tenant_id and e.status = 'RUNNING')
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
                """, [Sql.P(tenantIds), Sql.P(limit), Sql.P(runtime), Sql.P(MaxCandidateTenants), .. Routing.Parameters(grants),
                    Sql.P(maxFleetShare)]));
            await using var reader = await batch.ExecuteReaderAsync(ct);
            await reader.ReadAsync(ct);
            fleetSlots = reader.GetInt64(0);
            await reader.NextResultAsync(ct);
            await reader.NextResultAsync(ct);
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
        var list = new List<ClaimedExecution>();
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
                    status = 'RUNNING',
                    attempt = e.attempt + 1,
                    started_at = clock.at,
                    completed_at = null,
                    worker_id = $2,
                    lease_token = gen_random_uuid(),
                    lease_expires_at = clock.at + make_interval(secs => $4)
                from popped p, clock
                where e.id = p.execution_id and e.status = 'PENDING'
                returning e.id, e.tenant_id, e.job_id, e.attempt, e.max_attempts, e.lease_token,
                          e.lease_expires_at, e.timeout_seconds, e.priority, e.started_at,
                          e.trace_parent, e.scheduled_at
            ), recorded as (
                insert into execution_attempts (execution_id, attempt, worker_id, lease_token, started_at)
                select id, attempt, $2, lease_token, started_at from claimed
            ), charged as (
                -- Each tenant's virtual time advances by what it actually got, over its weight.
                update tenant_sched s set vtime = s.vtime + c.n::float8 / quota.weight
                from (select tenant_id, count(*) as n from claimed group by tenant_id) c
                join quota on quota.tenant_id = c.tenant_id
                where s.tenant_id = c.tenant_id
            ), tick as (
                update scheduler_clock set vclock = greatest(vclock, $1)
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
                .. Routing.Parameters(grants)]))
        await using (var reader = await cmd.ExecuteReaderAsync(ct))
        {
            while (await reader.ReadAsync(ct))
            {
                var payload = new ExecutionPayload(reader.GetGuid(5), reader.GetGuid(6), reader.GetString(7),
                    reader.GetString(8), reader.GetFieldValue<string[]>(9), reader.GetInt32(10), new Priority(reader.GetInt16(11)))
                {
                    TraceParent = reader.GetStringOrNull(12),
                    ScheduledAt = reader.GetTimestamp(13),
                    Resources = JobStore.ReadResources(reader, 14),
                    Network = reader.GetBoolean(17),
                    RunAsRoot = reader.GetBoolean(18),
                };
                list.Add(new ClaimedExecution(reader.GetGuid(0), reader.GetGuid(1), reader.GetInt32(2), reader.GetInt32(3),
                    reader.GetTimestamp(4), payload));
            }
        }
        await tx.CommitAsync(ct);
        return list;
    }

    /// <summary>
    /// Gives each candidate its share cap and its running executions. A tenant capped by
    /// max_concurrent_executions was counted exactly already; the others are counted in one statement,
    /// each up to its cap + 1 (executions_running_tenant_idx, an index-only scan once vacuumed): past
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
        await using var cmd = conn.Command("""
            select (select count(*) from (
                select 1 from executions e where e.tenant_id = u.tenant_id and e.status = 'RUNNING' limit u.n) x)
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

    /// <summary>
    /// Marks tenants without ready work inactive, so claims stop visiting them. Under each tenant's
    /// exclusive advisory lock (skipping tenants whose work is being queued right now), and re-checked
    /// in a fresh snapshot after the locks are held, so ready work committed meanwhile keeps its
    /// tenant active. Safe from every replica at once.
    /// </summary>
    public async Task<int> DeactivateIdleTenantsAsync(CancellationToken ct)
    {
        await using var conn = await db.OpenConnectionAsync(ct);
        await using var tx = await conn.BeginTransactionAsync(ct);
        var locked = new List<Guid>();
        await using (var cmd = conn.Command("""
            select s.tenant_id from tenant_sched s
            where s.active and not exists (select 1 from ready_queue q where q.tenant_id = s.tenant_id)
            limit 1000
            """, tx))
        await using (var reader = await cmd.ExecuteReaderAsync(ct))
        {
            while (await reader.ReadAsync(ct)) locked.Add(reader.GetGuid(0));
        }
        if (locked.Count == 0) return 0;
        await using (var cmd = conn.Command("""
            select t from unnest($1::uuid[]) as t where pg_try_advisory_xact_lock($2, hashtext(t::text))
            """, tx, Sql.P(locked.ToArray()), Sql.P(LockKeys.Queue)))
        await using (var reader = await cmd.ExecuteReaderAsync(ct))
        {
            locked.Clear();
            while (await reader.ReadAsync(ct)) locked.Add(reader.GetGuid(0));
        }
        await using var update = conn.Command("""
            update tenant_sched s set active = false
            where s.tenant_id = any($1) and s.active
              and not exists (select 1 from ready_queue q where q.tenant_id = s.tenant_id)
            """, tx, Sql.P(locked.ToArray()));
        var n = await update.ExecuteNonQueryAsync(ct);
        await tx.CommitAsync(ct);
        return n;
    }

    /// <summary>One lease a heartbeat found still held, and whether a user asked to cancel its execution.</summary>
    public readonly record struct HeldLease(Guid Id, DateTimeOffset ExpiresAt, bool CancelRequested);

    /// <summary>
    /// Checks every lease a worker names and extends those still held by their token, in one
    /// statement. Only leases past a third of their life are rewritten: frequent heartbeats (which is how
    /// cancel requests reach workers quickly) then cost a read, not a row update, most of the time;
    /// every lease still held keeps at least 2/3 of its length, which workers rely on (they stop
    /// their jobs once half a lease has passed without a confirmation).
    /// Leases not returned were lost (expired and rescued, or finished): their attempts must stop.
    /// </summary>
    public async Task<IReadOnlyList<HeldLease>> HeartbeatAsync(
        IReadOnlyList<LeaseRef> leases, TimeSpan lease, CancellationToken ct, Guid[]? tenantIds = null)
    {
        if (leases.Count == 0) return [];
        await using var cmd = db.Command("""
            with req as (
                select * from unnest($1::uuid[], $2::uuid[]) as l(id, token)
            ), held as (
                select e.id, e.lease_token, e.lease_expires_at, e.cancel_requested_at is not null as cancel
                from executions e join req on e.id = req.id and e.lease_token = req.token
                where e.status = 'RUNNING' and ($4::uuid[] is null or e.tenant_id = any($4))
            ), extended as (
                -- token and status are checked again here: a rescue committing meanwhile wins.
                update executions e set lease_expires_at = now() + make_interval(secs => $3)
                from held h
                where e.id = h.id and e.lease_token = h.lease_token and e.status = 'RUNNING'
                  and h.lease_expires_at < now() + make_interval(secs => $3 * 2 / 3)
                returning e.id, e.lease_expires_at
            )
            select h.id, coalesce(x.lease_expires_at, h.lease_expires_at), h.cancel
            from held h left join extended x on x.id = h.id
            """, Sql.P(leases.Select(l => l.ExecutionId).ToArray()), Sql.P(leases.Select(l => l.LeaseToken).ToArray()),
            Sql.P(lease.TotalSeconds), Sql.P(tenantIds));
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        var list = new List<HeldLease>();
        while (await reader.ReadAsync(ct)) list.Add(new HeldLease(reader.GetGuid(0), reader.GetTimestamp(1), reader.GetBoolean(2)));
        return list;
    }

    /// <summary>Appends log lines if the token still holds the lease, in one statement, with no operator cap.</summary>
    public async Task<LeaseCheck> AppendLogsAsync(
        Guid executionId, Guid leaseToken, IReadOnlyList<LogLine> lines, CancellationToken ct) =>
        (await AppendLogsAsync(executionId, leaseToken, lines, LogCap.None, ct)).Check;

    /// <summary>
    /// Appends log lines if the token still holds the lease, storing at most the cap's bytes (UTF-8)
    /// for the whole execution: the tenant's own limit when it has one, the operator's otherwise. The
    /// line that would pass the cap, and every line after it, is dropped; the marker of the limit that
    /// applied is stored once in their place, as the last line the execution's log will ever get. All
    /// in one statement: it locks the execution's row, so concurrent appends are counted one after the
    /// other and together never pass the cap. A batch that arrives after the cut writes nothing at
    /// all. The execution is never failed for it.
    /// <para>Cost: one row lock and one HOT update of executions per batch (log_bytes is not
    /// indexed), one primary-key read of the tenant's limit, besides the insert; followers are
    /// notified in the same statement. A tenant's changed limit applies from the next batch on.</para>
    /// </summary>
    public async Task<LogAppend> AppendLogsAsync(
        Guid executionId, Guid leaseToken, IReadOnlyList<LogLine> lines, LogCap cap, CancellationToken ct)
    {
        await using var cmd = db.Command($$"""
            with holder as (
                select e.id, e.log_bytes, e.log_cut, coalesce(t.log_max_bytes_per_execution, $5) as cap,
                       case when t.log_max_bytes_per_execution is null then $6
                            else replace($7, '{{LogCap.LimitPlaceholder}}', {{LogCap.FormatSizeSql("t.log_max_bytes_per_execution")}}) end as marker
                from executions e join tenants t on t.id = e.tenant_id
                where e.id = $1 and e.lease_token = $2 and e.status = 'RUNNING'
                for no key update of e
            ), lines as (
                select t.stream, t.content, t.n, sum(octet_length(t.content)) over (order by t.n) as upto
                from unnest($3::text[], $4::text[]) with ordinality as t(stream, content, n)
            ), fit as (
                select l.stream, l.content, l.n, l.upto from lines l, holder h
                where not h.log_cut and h.log_bytes + l.upto <= h.cap
            ), overflow as (
                select exists (select 1 from lines l, holder h where not h.log_cut and h.log_bytes + l.upto > h.cap) as cut
            ), ins as (
                insert into execution_logs (execution_id, stream, content)
                select $1, x.stream, x.content from (
                    select stream, content, n from fit
                    union all
                    select 'stderr', (select marker from holder), 9223372036854775807 from overflow where cut
                ) x order by x.n
            ), changed as (
                update executions e
                set log_bytes = h.log_bytes + coalesce((select max(upto) from fit), 0),
                    log_cut = (select cut from overflow)
                from holder h
                where e.id = h.id and (exists (select 1 from fit) or (select cut from overflow))
                returning e.id
            ), notify as (
                select pg_notify('jobplane_execution', id::text) from changed
            )
            select (select count(*) from holder),
                   coalesce((select log_cut from holder), false) or (select cut from overflow),
                   coalesce((select max(upto) from fit), 0)::bigint,
                   (select count(*) from notify)
            """, Sql.P(executionId), Sql.P(leaseToken),
            Sql.P(lines.Select(l => l.Stream).ToArray()!), Sql.P(lines.Select(l => l.Content).ToArray()),
            Sql.P(cap.OperatorBytes), Sql.P(cap.OperatorMarker), Sql.P(cap.TenantMarker));
        bool held, full;
        long stored;
        // The reader is disposed exactly once, before the follow-up query: the command owns its
        // pooled connection, and Npgsql reuses one reader object per connection, so a second dispose
        // after the connection went back to the pool would close another request's reader.
        await using (var reader = await cmd.ExecuteReaderAsync(ct))
        {
            await reader.ReadAsync(ct);
            held = reader.GetInt64(0) == 1;
            full = reader.GetBoolean(1);
            stored = reader.GetInt64(2);
        }
        return held
            ? new LogAppend(LeaseCheck.Accepted, stored, full)
            : new LogAppend(await WhyNotHeldAsync(executionId, ct), 0, false);
    }

    /// <summary>
    /// Records an attempt's outcome if its token still holds the lease. Success is SUCCEEDED (even if
    /// a cancel was requested meanwhile: the work was done). Otherwise: CANCELLED when a cancel was
    /// requested; FAILED into the DLQ at once for an exit code the job lists as permanent or a
    /// non-retryable failure; RETRYING after the job's backoff while attempts remain; else FAILED into the DLQ.
    /// </summary>
    public async Task<CompletionOutcome> CompleteAsync(
        Guid executionId, Guid leaseToken, AttemptResult result, BackoffPolicy backoff, CancellationToken ct) =>
        (await CompleteManyAsync([new Completion(executionId, leaseToken, result)], backoff, ct))[0];

    /// <summary>
    /// Records many attempts' outcomes in one transaction and a fixed number of statements, whatever
    /// their number: lock the executions still held by their tokens (in id order, so concurrent
    /// batches cannot deadlock), decide each one's next status, then one set-based update of the
    /// attempts, one of the executions and one insert into the dead-letter queue. Each report is
    /// answered on its own, in order: a lost lease or a missing execution writes nothing for that
    /// report and does not hold back the others. A value that cannot be stored (a result jsonb refuses,
    /// text that is not valid UTF-8: see <see cref="StoreErrors.IsUnstorableValue"/>) fails the
    /// statement for the whole batch: the batch is then written report by report, so only the
    /// offending report is refused.
    /// <paramref name="tenantIds"/>, when given, restricts the batch to those tenants' executions:
    /// any other is answered NotFound.
    /// </summary>
    public async Task<IReadOnlyList<CompletionOutcome>> CompleteManyAsync(
        IReadOnlyList<Completion> completions, BackoffPolicy backoff, CancellationToken ct, Guid[]? tenantIds = null)
    {
        if (completions.Count == 0) return [];
        try
        {
            return await CompleteInOneTransactionAsync(completions, backoff, tenantIds, ct);
        }
        catch (Exception e) when (StoreErrors.IsUnstorableValue(e))
        {
            if (completions.Count == 1) return [new CompletionOutcome(LeaseCheck.Refused, Refused: StoreErrors.DescribeUnstorable(e))];
            var outcomes = new CompletionOutcome[completions.Count];
            for (var i = 0; i < completions.Count; i++)
                outcomes[i] = (await CompleteManyAsync([completions[i]], backoff, ct, tenantIds))[0];
            return outcomes;
        }
    }

    private async Task<IReadOnlyList<CompletionOutcome>> CompleteInOneTransactionAsync(
        IReadOnlyList<Completion> completions, BackoffPolicy backoff, Guid[]? tenantIds, CancellationToken ct)
    {
        await using var conn = await db.OpenConnectionAsync(ct);
        await using var tx = await conn.BeginTransactionAsync(ct);
        var held = new Dictionary<Guid, HeldAttempt>(completions.Count);
        await using (var cmd = conn.Command("""
            select e.id, e.attempt, e.attempt - e.free_attempts, e.max_attempts, e.tenant_id, e.job_id,
                   e.cancel_requested_at is not null, j.retry_backoff_base_seconds, j.retry_backoff_max_seconds,
                   j.non_retryable_exit_codes
            from unnest($1::uuid[], $2::uuid[]) as r(id, token)
            join executions e on e.id = r.id and e.lease_token = r.token
            join jobs j on j.id = e.job_id
            where e.status = 'RUNNING' and ($3::uuid[] is null or e.tenant_id = any($3))
            order by e.id
            for update of e
            """, tx, Sql.P(completions.Select(c => c.ExecutionId).ToArray()), Sql.P(completions.Select(c => c.LeaseToken).ToArray()),
            Sql.P(tenantIds)))
        await using (var reader = await cmd.ExecuteReaderAsync(ct))
        {
            while (await reader.ReadAsync(ct))
            {
                held[reader.GetGuid(0)] = new HeldAttempt(
                    Attempt: reader.GetInt32(1), Charged: reader.GetInt32(2), MaxAttempts: reader.GetInt32(3),
                    TenantId: reader.GetGuid(4), JobId: reader.GetGuid(5), CancelRequested: reader.GetBoolean(6),
                    BackoffBase: reader.IsDBNull(7) ? null : reader.GetDouble(7),
                    BackoffMax: reader.IsDBNull(8) ? null : reader.GetDouble(8),
                    PermanentCodes: reader.GetFieldValue<int[]>(9));
            }
        }

        var outcomes = new CompletionOutcome[completions.Count];
        var attempts = new AttemptColumns(held.Count);
        var executions = new ExecutionColumns(held.Count);
        var dead = new DeadLetterColumns();
        for (var i = 0; i < completions.Count; i++)
        {
            var c = completions[i];
            // A report named twice in one batch is heard once: the first one holds the lease.
            if (!held.Remove(c.ExecutionId, out var h)) continue;
            var result = c.Result;
            var succeeded = result.ExitCode == 0 && result.Error is null;
            var error = succeeded ? null : result.Error ?? $"exit code {result.ExitCode}";
            var permanent = !succeeded && result.ExitCode is { } code && h.PermanentCodes.Contains(code);
            if (permanent) error += $" (exit code {result.ExitCode} is listed as permanent: not retried)";
            var status = succeeded ? ExecutionStatus.Succeeded
                : h.CancelRequested ? ExecutionStatus.Cancelled
                : result.Retryable && !permanent && h.Charged < h.MaxAttempts ? ExecutionStatus.Retrying
                : ExecutionStatus.Failed;
            if (status == ExecutionStatus.Cancelled) error = $"cancelled while running ({error})";

            attempts.Add(c.ExecutionId, h.Attempt, result.ExitCode, error,
                succeeded ? AttemptOutcome.Succeeded : status == ExecutionStatus.Cancelled ? AttemptOutcome.Cancelled : AttemptOutcome.Failed);
            var delay = status == ExecutionStatus.Retrying ? backoff(h.Charged, h.BackoffBase, h.BackoffMax).TotalSeconds : 0;
            executions.Add(c.ExecutionId, status, result.ExitCode, error, result.ResultJson, delay);
            if (status == ExecutionStatus.Failed) dead.Add(c.ExecutionId, h.TenantId, h.JobId, error!, h.Attempt);
            outcomes[i] = new CompletionOutcome(LeaseCheck.Accepted, status);
        }

        if (executions.Count > 0)
        {
            await using var batch = new NpgsqlBatch(conn, tx);
            batch.BatchCommands.Add(Sql.BatchCommand("""
                update execution_attempts a set ended_at = now(), exit_code = u.exit_code, error = u.error, outcome = u.outcome
                from unnest($1::uuid[], $2::int[], $3::int[], $4::text[], $5::text[]) as u(id, attempt, exit_code, error, outcome)
                where a.execution_id = u.id and a.attempt = u.attempt
                """, Sql.Column(attempts.Ids), Sql.Column(attempts.Attempts), Sql.Column(attempts.ExitCodes),
                Sql.Column(attempts.Errors), Sql.Column(attempts.Outcomes)));
            // A retry waits in executions until it is due (promoted by maintenance); every other
            // status is final and completes the execution now.
            batch.BatchCommands.Add(Sql.BatchCommand("""
                update executions e set status = u.status, exit_code = u.exit_code, error = u.error, result = u.result::jsonb,
                    scheduled_at = case when u.status = 'RETRYING' then now() + make_interval(secs => u.delay) else e.scheduled_at end,
                    completed_at = case when u.status = 'RETRYING' then e.completed_at else now() end,
                    lease_token = null, lease_expires_at = null
                from unnest($1::uuid[], $2::text[], $3::int[], $4::text[], $5::text[], $6::float8[])
                    as u(id, status, exit_code, error, result, delay)
                where e.id = u.id
                """, Sql.Column(executions.Ids), Sql.Column(executions.Statuses), Sql.Column(executions.ExitCodes),
                Sql.Column(executions.Errors), Sql.Column(executions.Results), Sql.Column(executions.Delays)));
            if (dead.Count > 0)
            {
                batch.BatchCommands.Add(Sql.BatchCommand("""
                    insert into dead_letters (id, tenant_id, execution_id, job_id, error_message, attempts)
                    select * from unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::uuid[], $5::text[], $6::int[])
                    """, Sql.Column(dead.Ids), Sql.Column(dead.TenantIds), Sql.Column(dead.ExecutionIds),
                    Sql.Column(dead.JobIds), Sql.Column(dead.Errors), Sql.Column(dead.Attempts)));
            }
            await batch.ExecuteNonQueryAsync(ct);
        }

        // Reports not heard: tell a lost lease from an execution that does not exist (or that this
        // credential may not see). Rare, so it costs a statement only when it happens.
        var unheard = Enumerable.Range(0, completions.Count).Where(i => outcomes[i] is null).ToList();
        if (unheard.Count > 0)
        {
            var exists = new HashSet<Guid>();
            await using (var cmd = conn.Command("""
                select id from executions where id = any($1) and ($2::uuid[] is null or tenant_id = any($2))
                """, tx, Sql.P(unheard.Select(i => completions[i].ExecutionId).ToArray()), Sql.P(tenantIds)))
            await using (var reader = await cmd.ExecuteReaderAsync(ct))
            {
                while (await reader.ReadAsync(ct)) exists.Add(reader.GetGuid(0));
            }
            foreach (var i in unheard)
                outcomes[i] = new CompletionOutcome(exists.Contains(completions[i].ExecutionId) ? LeaseCheck.LeaseLost : LeaseCheck.NotFound);
        }
        await tx.CommitAsync(ct);
        return outcomes;
    }

    private sealed record HeldAttempt(int Attempt, int Charged, int MaxAttempts, Guid TenantId, Guid JobId,
        bool CancelRequested, double? BackoffBase, double? BackoffMax, int[] PermanentCodes);

    // Column-wise buffers for the set-based statements above (one array parameter per column).
    private sealed class AttemptColumns(int capacity)
    {
        public readonly List<Guid> Ids = new(capacity);
        public readonly List<int> Attempts = new(capacity);
        public readonly List<int?> ExitCodes = new(capacity);
        public readonly List<string?> Errors = new(capacity);
        public readonly List<string> Outcomes = new(capacity);

        public void Add(Guid id, int attempt, int? exitCode, string? error, string outcome)
        {
            Ids.Add(id); Attempts.Add(attempt); ExitCodes.Add(exitCode); Errors.Add(error); Outcomes.Add(outcome);
        }
    }

    private sealed class ExecutionColumns(int capacity)
    {
        public readonly List<Guid> Ids = new(capacity);
        public readonly List<string> Statuses = new(capacity);
        public readonly List<int?> ExitCodes = new(capacity);
        public readonly List<string?> Errors = new(capacity);
        public readonly List<string?> Results = new(capacity);
        public readonly List<double> Delays = new(capacity);
        public int Count => Ids.Count;

        public void Add(Guid id, string status, int? exitCode, string? error, string? result, double delay)
        {
            Ids.Add(id); Statuses.Add(status); ExitCodes.Add(exitCode); Errors.Add(error); Results.Add(result); Delays.Add(delay);
        }
    }

    private sealed class DeadLetterColumns
    {
        public readonly List<Guid> Ids = [];
        public readonly List<Guid> TenantIds = [];
        public readonly List<Guid> ExecutionIds = [];
        public readonly List<Guid> JobIds = [];
        public readonly List<string> Errors = [];
        public readonly List<int> Attempts = [];
        public int Count => Ids.Count;

        public void Add(Guid executionId, Guid tenantId, Guid jobId, string error, int attempts)
        {
            Ids.Add(Guid.CreateVersion7()); TenantIds.Add(tenantId); ExecutionIds.Add(executionId); JobIds.Add(jobId);
            Errors.Add(error); Attempts.Add(attempts);
        }
    }

    /// <summary>
    /// A draining worker hands an unfinished attempt back: the execution is ready again at once and
    /// the attempt is not charged against max_attempts (it was not the job's fault).
    /// </summary>
    public async Task<LeaseCheck> ReleaseAsync(Guid executionId, Guid leaseToken, string reason, CancellationToken ct)
    {
        await using var cmd = db.Command($"""
            with released as (
                update executions e set
                    status = case when e.cancel_requested_at is null then 'PENDING' else 'CANCELLED' end,
                    completed_at = case when e.cancel_requested_at is null then null else now() end,
                    error = case when e.cancel_requested_at is null then e.error else 'cancelled while running (handed back by its worker)' end,
                    free_attempts = free_attempts + 1, lease_token = null, lease_expires_at = null, worker_id = null
                where e.id = $1 and e.lease_token = $2 and e.status = 'RUNNING'
                returning e.id, e.tenant_id, e.job_id, e.priority, e.attempt, e.status, e.scheduled_at
            ), ended as (
                update execution_attempts a set ended_at = now(), error = $3, outcome = 'released'
                from released r where a.execution_id = r.id and a.attempt = r.attempt
            ), queued as (
                insert into ready_queue (execution_id, tenant_id, priority, ready_at, {Routing.Columns})
                select r.id, r.tenant_id, r.priority, r.scheduled_at, {Routing.FromJob}
                from released r join jobs j on j.id = r.job_id where r.status = 'PENDING'
            )
            select count(*) from released
            """, Sql.P(executionId), Sql.P(leaseToken), Sql.P(reason));
        var n = (long)(await cmd.ExecuteScalarAsync(ct))!;
        return n == 1 ? LeaseCheck.Accepted : await WhyNotHeldAsync(executionId, ct);
    }

    /// <summary>
    /// Moves scheduled runs and retries whose time has come (by the database clock) into the ready
    /// queue; served by executions_due_idx. Safe to run from every controller replica at once.
    /// </summary>
    public async Task<int> PromoteDueAsync(int batchSize, CancellationToken ct)
    {
        await using var cmd = db.Command($"""
            with due as (
                select id from executions
                where status in ('SCHEDULED', 'RETRYING') and scheduled_at <= now()
                order by scheduled_at
                limit $1
                for update skip locked
            ), promoted as (
                update executions e set status = 'PENDING'
                from due where e.id = due.id
                returning e.id, e.tenant_id, e.job_id, e.priority, e.scheduled_at
            )
            insert into ready_queue (execution_id, tenant_id, priority, ready_at, {Routing.Columns})
            select p.id, p.tenant_id, p.priority, p.scheduled_at, {Routing.FromJob}
            from promoted p join jobs j on j.id = p.job_id
            """, Sql.P(batchSize));
        return await cmd.ExecuteNonQueryAsync(ct);
    }

    /// <summary>
    /// Rescues executions whose lease expired (by the database clock; served by executions_lease_idx):
    /// the lost attempt is recorded and counts against max_attempts, so a job that kills its worker
    /// cannot loop forever; the execution is ready again at once, or FAILED into the DLQ when no
    /// attempts remain. Returns how many were rescued.
    /// </summary>
    public async Task<int> RescueExpiredAsync(int batchSize, CancellationToken ct)
    {
        await using var conn = await db.OpenConnectionAsync(ct);
        await using var tx = await conn.BeginTransactionAsync(ct);
        var expired = new List<(Guid Id, Guid Tenant, Guid Job, int Attempt, int Charged, int Max, string? Worker, bool Cancel)>();
        await using (var cmd = conn.Command("""
            select id, tenant_id, job_id, attempt, attempt - free_attempts, max_attempts, worker_id,
                   cancel_requested_at is not null
            from executions
            where status = 'RUNNING' and lease_expires_at < now()
            order by lease_expires_at
            limit $1
            for update skip locked
            """, tx, Sql.P(batchSize)))
        await using (var reader = await cmd.ExecuteReaderAsync(ct))
        {
            while (await reader.ReadAsync(ct))
            {
                expired.Add((reader.GetGuid(0), reader.GetGuid(1), reader.GetGuid(2), reader.GetInt32(3),
                    reader.GetInt32(4), reader.GetInt32(5), reader.GetStringOrNull(6), reader.GetBoolean(7)));
            }
        }
        if (expired.Count == 0) return 0;

        await using var batch = new NpgsqlBatch(conn, tx);
        foreach (var x in expired)
        {
            var error = $"lease expired: worker {x.Worker ?? "?"} stopped heartbeating during attempt {x.Attempt}";
            batch.BatchCommands.Add(Sql.BatchCommand("""
                update execution_attempts set ended_at = now(), error = $3, outcome = 'lease_expired'
                where execution_id = $1 and attempt = $2
                """, Sql.P(x.Id), Sql.P(x.Attempt), Sql.P(error)));
            if (x.Cancel)
            {
                batch.BatchCommands.Add(Sql.BatchCommand("""
                    update executions set status = 'CANCELLED', error = $2, completed_at = now(),
                        lease_token = null, lease_expires_at = null
                    where id = $1
                    """, Sql.P(x.Id), Sql.P($"cancelled while running; {error}")));
            }
            else if (x.Charged < x.Max)
            {
                batch.BatchCommands.Add(Sql.BatchCommand("""
                    update executions set status = 'PENDING', error = $2, lease_token = null, lease_expires_at = null
                    where id = $1
                    """, Sql.P(x.Id), Sql.P(error)));
                // Back at its original place in the queue (its due time), not behind everything
                // submitted since: a worker's death should not cost its executions their turn.
                batch.BatchCommands.Add(Sql.BatchCommand($"""
                    insert into ready_queue (execution_id, tenant_id, priority, ready_at, {Routing.Columns})
                    select e.id, e.tenant_id, e.priority, e.scheduled_at, {Routing.FromJob}
                    from executions e join jobs j on j.id = e.job_id where e.id = $1
                    """, Sql.P(x.Id)));
            }
            else
            {
                var final = $"{error}; no attempts left ({x.Charged} of {x.Max})";
                batch.BatchCommands.Add(Sql.BatchCommand("""
                    update executions set status = 'FAILED', error = $2, completed_at = now(),
                        lease_token = null, lease_expires_at = null
                    where id = $1
                    """, Sql.P(x.Id), Sql.P(final)));
                batch.BatchCommands.Add(DeadLetter(x.Id, x.Tenant, x.Job, final, x.Attempt));
            }
        }
        await batch.ExecuteNonQueryAsync(ct);
        await tx.CommitAsync(ct);
        return expired.Count;
    }

    /// <summary>Forgets idempotency keys older than 24 hours; served by idempotency_keys_created_idx.</summary>
    public async Task<int> ExpireIdempotencyKeysAsync(int batchSize, CancellationToken ct)
    {
        await using var cmd = db.Command("""
            delete from idempotency_keys where ctid in (
                select ctid from idempotency_keys where created_at < now() - interval '24 hours' limit $1)
            """, Sql.P(batchSize));
        return await cmd.ExecuteNonQueryAsync(ct);
    }

    private static NpgsqlBatchCommand DeadLetter(Guid executionId, Guid tenantId, Guid jobId, string error, int attempts) =>
        Sql.BatchCommand("""
            insert into dead_letters (id, tenant_id, execution_id, job_id, error_message, attempts)
            values ($1, $2, $3, $4, $5, $6)
            """, Sql.P(Guid.CreateVersion7()), Sql.P(tenantId), Sql.P(executionId), Sql.P(jobId), Sql.P(error), Sql.P(attempts));

    /// <summary>The tenant an execution belongs to, or null when there is no such execution.</summary>
    public async Task<Guid?> TenantOfAsync(Guid executionId, CancellationToken ct)
    {
        await using var cmd = db.Command("select tenant_id from executions where id = $1", Sql.P(executionId));
        return await cmd.ExecuteScalarAsync(ct) is Guid tenant ? tenant : null;
    }

    /// <summary>Tells a refused lease call apart: NotFound when the execution does not exist, LeaseLost otherwise.</summary>
    public async Task<LeaseCheck> WhyNotHeldAsync(Guid executionId, CancellationToken ct)
    {
        await using var cmd = db.Command("select 1 from executions where id = $1", Sql.P(executionId));
        return await cmd.ExecuteScalarAsync(ct) is null ? LeaseCheck.NotFound : LeaseCheck.LeaseLost;
    }
}
