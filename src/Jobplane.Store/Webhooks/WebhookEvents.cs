using Jobplane.Api;

namespace Jobplane.Store.Webhooks;

/// <summary>
/// The event types an endpoint may ask for, and which transitions make them: the mapping is SQL, run
/// in the statement that writes the transition (<see cref="TransitionWriter.AppendEvents"/>).
/// </summary>
public static class WebhookEvents
{
    public const string Started = "execution.started";
    public const string Succeeded = "execution.succeeded";
    public const string Failed = "execution.failed";
    /// <summary>Every execution that ends FAILED goes to the dead-letter queue: the same transition, named for what a subscriber watches.</summary>
    public const string DeadLettered = "execution.dead_lettered";
    public const string Cancelled = "execution.cancelled";
    /// <summary>An attempt failed (or its worker was lost) and another will run.</summary>
    public const string Retrying = "execution.retrying";
    /// <summary>A schedule created an execution (a due time, or a manual trigger).</summary>
    public const string ScheduleFired = "schedule.fired";
    /// <summary>A schedule's due time was skipped: its overlap or misfire policy, or a live Idempotency-Key, said so.</summary>
    public const string ScheduleSkipped = "schedule.skipped";
    /// <summary>Sent only by "send a test event"; never by a transition.</summary>
    public const string Test = "webhook.test";

    public static readonly IReadOnlyList<string> Subscribable = [Started, Succeeded, Failed, DeadLettered, Cancelled, Retrying, ScheduleFired, ScheduleSkipped];

    /// <summary>
    /// SQL: the event types (text[]) of the execution_events row aliased <paramref name="e"/>
    /// (its kind and to_status). Empty for transitions no one subscribes to (submitted, promoted).
    /// </summary>
    public static string TypesOf(string e) => $"""
        case when {e}.kind = '{EventKind.Claimed.Word()}' then array['{Started}']
             when {e}.to_status = '{ExecutionStatus.Succeeded}' then array['{Succeeded}']
             when {e}.to_status = '{ExecutionStatus.Failed}' then array['{Failed}', '{DeadLettered}']
             when {e}.to_status = '{ExecutionStatus.Cancelled}' then array['{Cancelled}']
             when {e}.to_status = '{ExecutionStatus.Retrying}' then array['{Retrying}']
             when {e}.kind = '{EventKind.Lost.Word()}' and {e}.to_status = '{ExecutionStatus.Pending}' then array['{Retrying}']
             else array[]::text[] end
        """;

    /// <summary>
    /// A data-modifying CTE body: for each row of <paramref name="fires"/> (schedule_fires rows just
    /// inserted: schedule_id, tenant_id, due_at, trigger, outcome, execution_id, reason, missed,
    /// fired_at), one delivery per enabled endpoint of the tenant that asked for its type (and its
    /// job), written in the transaction of the fire, with its body frozen now: a fire has no later
    /// state to read.
    /// </summary>
    public static string ScheduleFires(string fires) => $$"""
        insert into webhook_deliveries (id, endpoint_id, tenant_id, event_type, execution_id, payload)
        select gen_random_uuid(), w.id, f.tenant_id, t.type, f.execution_id,
               jsonb_build_object(
                   'type', t.type,
                   'timestamp', to_char(f.fired_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
                   'data', jsonb_build_object(
                       'schedule_id', f.schedule_id, 'schedule_name', sc.name, 'tenant_id', f.tenant_id,
                       'job_id', sc.job_id, 'job_name', j.name, 'due_at', f.due_at, 'trigger', f.trigger,
                       'outcome', f.outcome, 'execution_id', f.execution_id, 'reason', f.reason, 'missed', f.missed))::text
        from {{fires}} f
        cross join lateral (select case f.outcome when 'fired' then '{{ScheduleFired}}' when 'skipped' then '{{ScheduleSkipped}}' end as type) t
        join schedules sc on sc.id = f.schedule_id
        join jobs j on j.id = sc.job_id
        join webhook_endpoints w on w.tenant_id = f.tenant_id and w.enabled and t.type = any(w.events)
        where t.type is not null
          and (w.job_ids is null or sc.job_id = any(w.job_ids))
          and (w.job_names is null or j.name = any(w.job_names))
        """;
}
