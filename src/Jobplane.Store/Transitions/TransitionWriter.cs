using Jobplane.Api;
using Npgsql;

namespace Jobplane.Store;

/// <summary>
/// The one writer of execution transitions. <see cref="ApplyAsync"/> applies a batch of decisions
/// (<see cref="ExecutionTransitions"/>) in the caller's transaction, in one statement whatever the
/// batch size: executions, the attempts that end, ready_queue, dead letters and execution_events.
/// Statements that create or claim executions in SQL (submission, DLQ retry, claim) append their
/// events and queue their rows through <see cref="AppendEvents"/> and <see cref="Enqueue"/>, so each
/// of those tables is written from one place.
/// </summary>
internal static class TransitionWriter
{
    /// <summary>
    /// Two data-modifying CTEs, named events and webhook_outbox: one event per row of
    /// <paramref name="source"/> (a subquery with the columns id, tenant_id, job_id, from_status,
    /// to_status, kind, attempt, worker_id, reason), and for each event one webhook delivery per
    /// enabled endpoint of the tenant that asked for its type (and its job, when the endpoint names
    /// jobs). Both are written in the transaction of the transition: a delivery exists exactly when
    /// its transition committed. A tenant without endpoints costs an index probe per event.
    /// </summary>
    public static string AppendEvents(string source) => $"""
        events as (
            insert into execution_events (execution_id, tenant_id, from_status, to_status, kind, attempt, worker_id, reason)
            select s.id, s.tenant_id, s.from_status, s.to_status, s.kind, s.attempt, s.worker_id, left(s.reason, {EventKinds.MaxReasonChars})
            from {source} s
            returning id, execution_id, tenant_id, to_status, kind
        ), webhook_outbox as (
            insert into webhook_deliveries (id, endpoint_id, tenant_id, event_type, execution_id, event_id)
            select gen_random_uuid(), w.id, ev.tenant_id, t.type, ev.execution_id, ev.id
            from events ev
            join {source} s on s.id = ev.execution_id
            cross join lateral unnest({Webhooks.WebhookEvents.TypesOf("ev")}) as t(type)
            join webhook_endpoints w on w.tenant_id = ev.tenant_id and w.enabled and t.type = any(w.events)
            where (w.job_ids is null or s.job_id = any(w.job_ids))
              and (w.job_names is null or exists (select 1 from jobs j where j.id = s.job_id and j.name = any(w.job_names)))
        )
        """;

    /// <summary>
    /// A data-modifying CTE body putting each row of <paramref name="source"/> (columns id, tenant_id,
    /// job_id, priority, ready_at) into ready_queue, routed as its job asks.
    /// </summary>
    public static string Enqueue(string source) => $"""
        insert into ready_queue (execution_id, tenant_id, priority, ready_at, {Routing.Columns})
        select s.id, s.tenant_id, s.priority, s.ready_at, {Routing.FromJob}
        from {source} s join jobs j on j.id = s.job_id
        """;

    /// <summary>The head of every insert of new executions; its select yields these columns in order.</summary>
    public const string InsertExecutions =
        "insert into executions (id, tenant_id, job_id, status, priority, timeout_seconds, max_attempts, scheduled_at, trace_parent)";

    /// <summary>What <see cref="Created"/> reads of the executions an <see cref="InsertExecutions"/> created.</summary>
    public const string CreatedColumns = "returning id, tenant_id, job_id, priority, status, scheduled_at";

    /// <summary>
    /// CTEs named queued, events and webhook_outbox for the executions a statement just created, in its CTE
    /// <paramref name="created"/> (<see cref="CreatedColumns"/>): the due ones (PENDING) into
    /// ready_queue, and each one's first event, of the kind in the SQL text <paramref name="kindSql"/>.
    /// The status was decided in SQL, by the database clock, as <see cref="ExecutionTransitions"/>
    /// decides <see cref="EventKind.Submitted"/>.
    /// </summary>
    public static string Created(string created, string kindSql) => $"""
        queued as (
            {Enqueue($"(select id, tenant_id, job_id, priority, scheduled_at as ready_at from {created} where status = '{ExecutionStatus.Pending}')")}
        ), {AppendEvents($"""
                (select id, tenant_id, job_id, null::text as from_status, status as to_status, {kindSql} as kind, 0 as attempt,
                        null::text as worker_id, null::text as reason
                 from {created})
                """)}
        """;

    /// <summary>
    /// The columns of a decisions source, in order: what <see cref="Statement"/> reads of each row.
    /// A source that is not the arrays of <see cref="ApplyAsync"/> must yield exactly these, typed.
    /// </summary>
    public const string DecisionColumns =
        "id, from_status, to_status, kind, attempt, outcome, exit_code, error, attempt_error, result, delay, queue, dead_id, uncharged, worker_id";

    private static readonly string ArraysSql = Statement($"""
        select * from unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::int[], $6::text[], $7::int[],
                             $8::text[], $9::text[], $10::text[], $11::float8[], $12::boolean[], $13::uuid[],
                             $14::boolean[], $15::text[])
            as d({DecisionColumns})
        """);

    /// <summary>
    /// The one statement that applies decisions, read from <paramref name="decisions"/> (a query
    /// yielding <see cref="DecisionColumns"/>; it may lock the rows it reads). A decision is applied
    /// only while the execution is still in its From status: the caller holds the rows locked, so
    /// this guards against a caller's mistake, not a race. Returns the ids of the executions moved.
    /// </summary>
    public static string Statement(string decisions) => $"""
        with d ({DecisionColumns}) as (
            {decisions}
        ), moved as (
            update executions e set
                status = d.to_status,
                exit_code = case when d.kind in ('{EventKind.Succeeded.Word()}', '{EventKind.Failed.Word()}') then d.exit_code else e.exit_code end,
                result = case when d.kind in ('{EventKind.Succeeded.Word()}', '{EventKind.Failed.Word()}') then d.result::jsonb else e.result end,
                error = case when d.kind = '{EventKind.Succeeded.Word()}' then null else coalesce(d.error, e.error) end,
                -- A retry waits in executions until it is due (promoted by maintenance).
                scheduled_at = case when d.to_status = '{ExecutionStatus.Retrying}' then now() + make_interval(secs => d.delay)
                                    else e.scheduled_at end,
                completed_at = case when d.to_status in ('{ExecutionStatus.Succeeded}', '{ExecutionStatus.Failed}', '{ExecutionStatus.Cancelled}')
                                    then now() else e.completed_at end,
                cancel_requested_at = case when d.kind = '{EventKind.Cancelled.Word()}' then coalesce(e.cancel_requested_at, now())
                                           else e.cancel_requested_at end,
                free_attempts = e.free_attempts + case when d.uncharged then 1 else 0 end,
                worker_id = case when d.uncharged then null else e.worker_id end,
                lease_token = case when d.to_status = '{ExecutionStatus.Running}' then e.lease_token end,
                lease_expires_at = case when d.to_status = '{ExecutionStatus.Running}' then e.lease_expires_at end
            from d
            where e.id = d.id and e.status = d.from_status
            returning e.id, e.tenant_id, e.job_id, e.priority, e.scheduled_at as ready_at, e.error
        ), ended as (
            update execution_attempts a set ended_at = now(), exit_code = d.exit_code, error = d.attempt_error, outcome = d.outcome
            from d join moved m on m.id = d.id
            where d.outcome is not null and a.execution_id = d.id and a.attempt = d.attempt
        ), dequeued as (
            -- A promotion that raced a cancel may have queued the execution again; it must not stay there.
            delete from ready_queue q using d join moved m on m.id = d.id
            where q.execution_id = d.id and d.to_status = '{ExecutionStatus.Cancelled}'
        ), queued as (
            {Enqueue("(select m.* from moved m join d on d.id = m.id where d.queue)")}
        ), dead as (
            insert into dead_letters (id, tenant_id, execution_id, job_id, error_message, attempts)
            select d.dead_id, m.tenant_id, m.id, m.job_id, m.error, d.attempt
            from d join moved m on m.id = d.id where d.dead_id is not null
        ), {AppendEvents("""
                (select m.id, m.tenant_id, m.job_id, d.from_status, d.to_status, d.kind, d.attempt, d.worker_id,
                        coalesce(d.attempt_error, d.error) as reason
                 from d join moved m on m.id = d.id)
                """)}
        select id from moved
        """;

    /// <summary>
    /// Applies <paramref name="batch"/> in the caller's transaction, in one statement; returns the
    /// ids of the executions moved (those still in their decision's From status). The caller must
    /// hold the executions' rows locked, in id order, as the claim and completion do.
    /// </summary>
    public static async Task<HashSet<Guid>> ApplyAsync(NpgsqlConnection conn, NpgsqlTransaction tx, IReadOnlyList<Transition> batch,
        CancellationToken ct)
    {
        var moved = new HashSet<Guid>();
        if (batch.Count == 0) return moved;
        await using var cmd = conn.Command(ArraysSql, tx,
            Column(batch, t => t.ExecutionId), Column(batch, t => t.Decision.From), Column(batch, t => t.Decision.To),
            Column(batch, t => t.Decision.Kind.Word()), Column(batch, t => t.Attempt), Column(batch, t => t.Decision.Outcome),
            Column(batch, t => t.ExitCode), Column(batch, t => t.Error), Column(batch, t => t.AttemptError),
            Column(batch, t => t.ResultJson), Column(batch, t => t.BackoffSeconds), Column(batch, t => t.Decision.Queue),
            Column(batch, t => t.Decision.DeadLetter ? Guid.CreateVersion7() : (Guid?)null), Column(batch, t => t.Decision.Uncharged),
            Column(batch, t => t.Worker));
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct)) moved.Add(reader.GetGuid(0));
        return moved;
    }

    private static NpgsqlParameter Column<T>(IReadOnlyList<Transition> batch, Func<Transition, T> column) =>
        Sql.Column(batch.Select(column).ToList());
}
