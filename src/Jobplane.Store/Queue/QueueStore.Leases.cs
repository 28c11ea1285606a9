using Jobplane.Api;
using Npgsql;

namespace Jobplane.Store;

public sealed partial class QueueStore
{
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
        IReadOnlyList<AttemptLease> leases, TimeSpan lease, CancellationToken ct, Guid[]? tenantIds = null)
    {
        if (leases.Count == 0) return [];
        await using var cmd = db.Command($"""
            with req as (
                select * from unnest($1::uuid[], $2::uuid[]) as l(id, token)
            ), held as (
                select e.id, e.lease_token, e.lease_expires_at, e.cancel_requested_at is not null as cancel
                from executions e join req on e.id = req.id and e.lease_token = req.token
                where e.status = '{ExecutionStatus.Running}' and ($4::uuid[] is null or e.tenant_id = any($4))
            ), extended as (
                -- token and status are checked again here: a rescue committing meanwhile wins.
                update executions e set lease_expires_at = now() + make_interval(secs => $3)
                from held h
                where e.id = h.id and e.lease_token = h.lease_token and e.status = '{ExecutionStatus.Running}'
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

    /// <summary>An attempt a restarted worker takes over, as its claim gave it, with how far it got.</summary>
    /// <param name="LoggedStdout">Stdout lines stored since the attempt began: the worker skips as many of the job's stdout.</param>
    /// <param name="LoggedStderr">The same for stderr.</param>
    /// <param name="RunningSeconds">How long ago the attempt began, by the database clock.</param>
    public sealed record ResumedAttempt(ClaimedAttempt Attempt, long LoggedStdout, long LoggedStderr, double RunningSeconds);

    /// <summary>
    /// For a worker that restarted while its attempt ran on (a Kubernetes Job outlives the worker's
    /// process): the attempt as its claim gave it, if <paramref name="workerId"/> still holds its
    /// lease by <paramref name="leaseToken"/> and the lease has not run out; null otherwise (then
    /// <see cref="WhyLeaseNotHeldAsync"/> says why). Changes nothing: the worker's heartbeats keep the
    /// lease from then on. The log count scans the execution's own lines (execution_logs_execution_idx),
    /// bounded by its log cap; it is asked once per restart.
    /// </summary>
    public async Task<ResumedAttempt?> ResumeAsync(Guid executionId, Guid leaseToken, string workerId, CancellationToken ct, Guid[]? tenantIds = null)
    {
        await using var cmd = db.Command($"""
            select e.id, e.lease_token, e.attempt, e.max_attempts, e.lease_expires_at,
                   e.job_id, e.tenant_id, j.name, j.image, j.command, e.timeout_seconds, e.priority,
                   e.trace_parent, e.scheduled_at,
                   j.memory_limit_bytes, j.cpu_limit, j.pids_limit,
                   case when j.network then coalesce((select t.allow_network from tenants t where t.id = e.tenant_id), false)
                        else false end,
                   j.run_as_root,
                   -- This attempt's lines: appends are fenced by its lease token, so every line
                   -- stored since it began is its own.
                   (select count(*) filter (where l.stream is distinct from 'stderr') from execution_logs l
                    where l.execution_id = e.id and l.created_at >= e.started_at),
                   (select count(*) filter (where l.stream = 'stderr') from execution_logs l
                    where l.execution_id = e.id and l.created_at >= e.started_at),
                   extract(epoch from clock_timestamp() - e.started_at)::float8
            from executions e join jobs j on j.id = e.job_id
            where e.id = $1 and e.lease_token = $2 and e.worker_id = $3 and e.status = '{ExecutionStatus.Running}'
              and e.lease_expires_at > clock_timestamp() and ($4::uuid[] is null or e.tenant_id = any($4))
            """, Sql.P(executionId), Sql.P(leaseToken), Sql.P(workerId), Sql.P(tenantIds));
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        if (!await reader.ReadAsync(ct)) return null;
        var payload = new AttemptPayload(reader.GetGuid(5), reader.GetGuid(6), reader.GetString(7),
            reader.GetString(8), reader.GetFieldValue<string[]>(9), reader.GetInt32(10), new Priority(reader.GetInt16(11)))
        {
            TraceParent = reader.GetStringOrNull(12),
            ScheduledAt = reader.GetTimestamp(13),
            Resources = JobStore.ReadResources(reader, 14),
            Network = reader.GetBoolean(17),
            RunAsRoot = reader.GetBoolean(18),
        };
        var attempt = new ClaimedAttempt(reader.GetGuid(0), reader.GetGuid(1), reader.GetInt32(2), reader.GetInt32(3), reader.GetTimestamp(4), payload);
        return new ResumedAttempt(attempt, reader.GetInt64(19), reader.GetInt64(20), reader.GetDouble(21));
    }

    /// <summary>Why a lease is not held: the execution is not there (or not the credential's), or the lease is gone.</summary>
    public Task<LeaseCheck> WhyLeaseNotHeldAsync(Guid executionId, CancellationToken ct) => WhyNotHeldAsync(executionId, ct);

    /// <summary>Appends log lines if the token still holds the lease, in one statement, with no operator cap.</summary>
    public async Task<LeaseCheck> AppendLogsAsync(
        Guid executionId, Guid leaseToken, IReadOnlyList<NewLogLine> lines, CancellationToken ct) =>
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
        Guid executionId, Guid leaseToken, IReadOnlyList<NewLogLine> lines, LogCap cap, CancellationToken ct)
    {
        await using var cmd = db.Command($$"""
            with holder as (
                select e.id, e.log_bytes, e.log_cut, coalesce(t.log_max_bytes_per_execution, $5) as cap,
                       case when t.log_max_bytes_per_execution is null then $6
                            else replace($7, '{{LogCap.LimitPlaceholder}}', {{LogCap.FormatSizeSql("t.log_max_bytes_per_execution")}}) end as marker
                from executions e join tenants t on t.id = e.tenant_id
                where e.id = $1 and e.lease_token = $2 and e.status = '{{ExecutionStatus.Running}}'
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
    /// A draining worker hands an unfinished attempt back: the execution is ready again at once and
    /// the attempt is not charged against max_attempts (it was not the job's fault); CANCELLED
    /// instead when a cancel was requested. Two statements in one transaction: lock the execution
    /// held by the token, one <see cref="TransitionWriter"/> statement.
    /// </summary>
    public async Task<LeaseCheck> ReleaseAsync(Guid executionId, Guid leaseToken, string reason, CancellationToken ct)
    {
        await using (var conn = await db.OpenConnectionAsync(ct))
        await using (var tx = await conn.BeginTransactionAsync(ct))
        {
            Transition? transition = null;
            await using (var cmd = conn.Command($"""
                select attempt, attempt - free_attempts, max_attempts, worker_id, cancel_requested_at is not null
                from executions where id = $1 and lease_token = $2 and status = '{ExecutionStatus.Running}'
                for update
                """, tx, Sql.P(executionId), Sql.P(leaseToken)))
            await using (var reader = await cmd.ExecuteReaderAsync(ct))
            {
                if (await reader.ReadAsync(ct))
                {
                    var state = new ExecutionState(ExecutionStatus.Running, reader.GetInt32(1), reader.GetInt32(2), reader.GetBoolean(4));
                    var decision = ExecutionTransitions.Decide(state, new ExecutionEvent(EventKind.HandedBack));
                    transition = new Transition(executionId, decision, reader.GetInt32(0), reader.GetStringOrNull(3))
                    {
                        AttemptError = reason,
                        Error = decision.To == ExecutionStatus.Cancelled ? "cancelled while running (handed back by its worker)" : null,
                    };
                }
            }
            if (transition is not null)
            {
                await TransitionWriter.ApplyAsync(conn, tx, [transition], ct);
                await tx.CommitAsync(ct);
                return LeaseCheck.Accepted;
            }
        }
        return await WhyNotHeldAsync(executionId, ct);
    }

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
