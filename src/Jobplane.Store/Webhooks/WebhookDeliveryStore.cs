using Jobplane.Api;
using Npgsql;

namespace Jobplane.Store.Webhooks;

/// <summary>
/// The webhook outbox: deliveries are written by <see cref="TransitionWriter"/> with their
/// transitions; here they are claimed, their outcomes recorded, listed, redelivered and aged out.
/// </summary>
public sealed class WebhookDeliveryStore(NpgsqlDataSource db)
{
    /// <summary>The largest result (as JSON text) a payload carries; a larger one is left out and flagged.</summary>
    public const int MaxResultBytes = 64 * 1024;

    /// <summary>SQL: when delivery <c>d</c>'s retry period began: when it was made, or redelivered.</summary>
    private const string RetriedSince = "coalesce(d.redelivered_at, d.created_at)";

    private static readonly string Terminal =
        $"('{ExecutionStatus.Succeeded}', '{ExecutionStatus.Failed}', '{ExecutionStatus.Cancelled}')";

    /// <summary>
    /// SQL: the body of delivery <c>d</c>, from its event and execution as they are at the first
    /// attempt. The status and attempt are the event's (a late first attempt still says what
    /// happened then); exit code, result and completion only when the event ended the execution.
    /// </summary>
    private static readonly string PayloadSql = $$"""
        (select jsonb_build_object(
            'type', d.event_type,
            'timestamp', to_char(coalesce(ev.at, d.created_at) at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
            'data', jsonb_build_object(
                'execution_id', d.execution_id,
                'tenant_id', d.tenant_id,
                'job_id', e.job_id,
                'job_name', j.name,
                'status', coalesce(ev.to_status, e.status),
                'attempt', coalesce(ev.attempt, e.attempt),
                'max_attempts', e.max_attempts,
                'exit_code', case when ev.to_status in {{Terminal}} then e.exit_code end,
                'error', case when ev.to_status <> '{{ExecutionStatus.Succeeded}}' then coalesce(ev.reason, e.error) end,
                'created_at', e.created_at,
                'started_at', e.started_at,
                'completed_at', case when ev.to_status in {{Terminal}} then e.completed_at end,
                'result', case when ev.to_status in {{Terminal}} and octet_length(e.result::text) <= {{MaxResultBytes}} then e.result end,
                'result_truncated', coalesce(ev.to_status in {{Terminal}} and octet_length(e.result::text) > {{MaxResultBytes}}, false)))::text
         from (select 1) one
         -- By the execution's events (execution_events_execution_idx): events have no index of their own id.
         left join execution_events ev on ev.execution_id = d.execution_id and ev.id = d.event_id
         left join executions e on e.id = d.execution_id
         left join jobs j on j.id = e.job_id)
        """;

    /// <summary>
    /// Claims up to <paramref name="limit"/> due deliveries of enabled endpoints, so that the
    /// caller's sends to one endpoint, counting those <paramref name="sending"/> says it already has
    /// in flight, stay at most <paramref name="perEndpoint"/>: each moves its next_attempt_at
    /// <paramref name="lease"/> ahead and counts the attempt, under FOR UPDATE SKIP LOCKED, so no
    /// two controllers send one delivery at once; a claimer that dies leaves it to come due again
    /// when the lease ends. The first claim freezes the body. The share per endpoint is what keeps
    /// one tenant's slow or flooded receiver from taking every slot: the oldest due deliveries of
    /// other endpoints are claimed beside its own.
    /// </summary>
    public async Task<IReadOnlyList<ClaimedDelivery>> ClaimAsync(int limit, TimeSpan lease, int perEndpoint,
        IReadOnlyDictionary<Guid, int> sending, CancellationToken ct)
    {
        var sendingTo = new Guid[sending.Count];
        var sendingCount = new int[sending.Count];
        var i = 0;
        foreach (var (endpoint, count) in sending)
        {
            (sendingTo[i], sendingCount[i]) = (endpoint, count);
            i++;
        }
        // The oldest due deliveries, a few times more than can be claimed: enough for the share
        // of each endpoint among them, while the due index keeps the read short however long the backlog.
        var window = Math.Max(limit * 4, 64);
        await using var cmd = db.Command($"""
            with sending as (
                select * from unnest($4::uuid[], $6::int[]) as s(endpoint_id, sends)
            ), candidates as (
                select d.id, d.endpoint_id, d.next_attempt_at from webhook_deliveries d
                join webhook_endpoints w on w.id = d.endpoint_id and w.enabled
                where d.state = 'pending' and d.next_attempt_at <= now()
                  and not exists (select 1 from sending s where s.endpoint_id = d.endpoint_id and s.sends >= $3)
                order by d.next_attempt_at
                limit $5
            ), ranked as (
                -- A place in the endpoint's line counts the sends already in flight to it.
                select c.id, c.next_attempt_at,
                       row_number() over (partition by c.endpoint_id order by c.next_attempt_at) + coalesce(s.sends, 0) as place
                from candidates c left join sending s on s.endpoint_id = c.endpoint_id
            ), due as (
                select d.id from webhook_deliveries d join ranked r on r.id = d.id
                where r.place <= $3 and d.state = 'pending' and d.next_attempt_at <= now()
                order by r.next_attempt_at
                limit $1
                for update of d skip locked
            ), claimed as (
                update webhook_deliveries d set
                    attempts = d.attempts + 1,
                    next_attempt_at = now() + make_interval(secs => $2),
                    first_attempt_at = coalesce(d.first_attempt_at, now()),
                    payload = coalesce(d.payload, {PayloadSql})
                from due where d.id = due.id
                returning d.id, d.endpoint_id, d.tenant_id, d.event_type, d.payload, d.attempts, d.created_at
            )
            select c.id, c.endpoint_id, c.tenant_id, c.event_type, w.url, w.secret,
                   case when w.previous_secret_expires_at > now() then w.previous_secret end,
                   c.payload, c.attempts, c.created_at, w.failing_since
            from claimed c join webhook_endpoints w on w.id = c.endpoint_id
            """, Sql.P(limit), Sql.P(lease.TotalSeconds), Sql.P(perEndpoint), Sql.P(sendingTo), Sql.P(window), Sql.P(sendingCount));
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        var claimed = new List<ClaimedDelivery>();
        while (await reader.ReadAsync(ct))
        {
            var secrets = new List<string> { reader.GetString(5) };
            if (reader.GetStringOrNull(6) is { } previous) secrets.Add(previous);
            claimed.Add(new ClaimedDelivery
            {
                Id = reader.GetGuid(0),
                EndpointId = reader.GetGuid(1),
                TenantId = reader.GetGuid(2),
                EventType = reader.GetString(3),
                Url = reader.GetString(4),
                Secrets = secrets,
                Payload = reader.GetString(7),
                Attempt = reader.GetInt32(8),
                CreatedAt = reader.GetTimestamp(9),
                FailingSince = reader.GetTimestampOrNull(10),
            });
        }
        return claimed;
    }

    /// <summary>
    /// Records one attempt's outcome. Only the claimer of that attempt moves the delivery (a claimer
    /// whose lease ran out and was overtaken records its attempt in the log and nothing more). A
    /// delivery still failing <paramref name="retryPeriod"/> after it was made fails for good; an
    /// endpoint failing for that long (or asked to be disabled) is disabled with its reason and an
    /// audit record. Returns true when this call disabled the endpoint.
    /// </summary>
    public async Task<bool> RecordAsync(ClaimedDelivery delivery, DeliveryOutcome outcome, TimeSpan retryPeriod, CancellationToken ct)
    {
        await using var conn = await db.OpenConnectionAsync(ct);
        await using var tx = await conn.BeginTransactionAsync(ct);
        await using (var cmd = conn.Command("""
            insert into webhook_attempts (delivery_id, attempt, status_code, latency_ms, error, response_head)
            values ($1, $2, $3, $4, left($5, 1000), left($6, 500))
            on conflict do nothing
            """, tx, Sql.P(delivery.Id), Sql.P(delivery.Attempt), Sql.P(outcome.StatusCode), Sql.P(outcome.LatencyMs),
            Sql.P(outcome.Error), Sql.P(outcome.ResponseHead)))
        {
            await cmd.ExecuteNonQueryAsync(ct);
        }
        bool moved;
        await using (var cmd = conn.Command($$"""
            with expired as (select now() - make_interval(secs => $7) as before)
            update webhook_deliveries d set
                state = case when $4 then 'delivered' when $5 or {{RetriedSince}} <= expired.before then 'failed' else 'pending' end,
                next_attempt_at = case when $4 or $5 or {{RetriedSince}} <= expired.before then d.next_attempt_at
                                       else now() + make_interval(secs => $6) end,
                finished_at = case when $4 or $5 or {{RetriedSince}} <= expired.before then now() end,
                last_status = $3, last_error = left($8, 1000)
            from expired
            where d.id = $1 and d.attempts = $2 and d.state = 'pending'
            """, tx, Sql.P(delivery.Id), Sql.P(delivery.Attempt), Sql.P(outcome.StatusCode), Sql.P(outcome.Delivered), Sql.P(outcome.Final),
            Sql.P(outcome.RetryIn.TotalSeconds), Sql.P(retryPeriod.TotalSeconds), Sql.P(outcome.Error)))
        {
            moved = await cmd.ExecuteNonQueryAsync(ct) == 1;
        }
        var disabled = false;
        if (moved)
        {
            await using (var cmd = conn.Command("""
                update webhook_endpoints set failing_since = case when $2 then null else coalesce(failing_since, now()) end
                where id = $1
                """, tx, Sql.P(delivery.EndpointId), Sql.P(outcome.Delivered)))
            {
                await cmd.ExecuteNonQueryAsync(ct);
            }
            if (!outcome.Delivered)
            {
                var period = Durations.Format(retryPeriod);
                await using var cmd = conn.Command("""
                    update webhook_endpoints set enabled = false, updated_at = now(),
                        disabled_reason = coalesce($3, 'every delivery failed for ' || $4 || ' (last: ' || left($5, 500) || ')')
                    where id = $1 and enabled and ($3 is not null or failing_since <= now() - make_interval(secs => $2))
                    returning tenant_id, disabled_reason
                    """, tx, Sql.P(delivery.EndpointId), Sql.P(retryPeriod.TotalSeconds), Sql.P(outcome.DisableEndpoint), Sql.P(period),
                    Sql.P(outcome.Error ?? (outcome.StatusCode is { } s ? $"HTTP {s}" : "no answer")));
                await using var reader = await cmd.ExecuteReaderAsync(ct);
                if (await reader.ReadAsync(ct))
                {
                    var (tenantId, reason) = (reader.GetGuid(0), reader.GetString(1));
                    await reader.DisposeAsync();
                    await using var audit = conn.Command("insert into audit_log (actor, action, tenant_id, target, details) values ('system', 'webhook.disable', $1, $2, $3)",
                        tx, Sql.P(tenantId), Sql.P($"webhook:{delivery.EndpointId}"),
                        Sql.Json(System.Text.Json.JsonSerializer.Serialize(new Dictionary<string, string> { ["reason"] = reason })));
                    await audit.ExecuteNonQueryAsync(ct);
                    disabled = true;
                }
            }
        }
        await tx.CommitAsync(ct);
        return disabled;
    }

    /// <summary>A page of an endpoint's deliveries, newest first, before <paramref name="before"/> (a delivery id of the previous page).</summary>
    public async Task<Page<WebhookDeliveryRecord>> ListAsync(Guid tenantId, Guid endpointId, Guid? before, int limit, CancellationToken ct)
    {
        await using var cmd = db.Command("""
            select d.id, d.endpoint_id, d.event_type, d.execution_id, d.state, d.attempts, d.created_at,
                   case when d.state = 'pending' then d.next_attempt_at end, d.finished_at, d.last_status, d.last_error
            from webhook_deliveries d
            where d.tenant_id = $1 and d.endpoint_id = $2
              and ($3::uuid is null or (d.created_at, d.id) < (select created_at, id from webhook_deliveries where id = $3 and endpoint_id = $2))
            order by d.created_at desc, d.id desc
            limit $4
            """, Sql.P(tenantId), Sql.P(endpointId), Sql.P(before), Sql.P(limit + 1));
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        var items = new List<WebhookDeliveryRecord>();
        while (await reader.ReadAsync(ct)) items.Add(ReadDelivery(reader));
        var more = items.Count > limit;
        if (more) items.RemoveAt(items.Count - 1);
        return new Page<WebhookDeliveryRecord>(items, more);
    }

    /// <summary>One delivery of the tenant's endpoint with every attempt; null when it is not the tenant's.</summary>
    public async Task<WebhookDeliveryRecord?> GetAsync(Guid tenantId, Guid endpointId, Guid id, CancellationToken ct)
    {
        WebhookDeliveryRecord? delivery;
        await using (var cmd = db.Command("""
            select d.id, d.endpoint_id, d.event_type, d.execution_id, d.state, d.attempts, d.created_at,
                   case when d.state = 'pending' then d.next_attempt_at end, d.finished_at, d.last_status, d.last_error
            from webhook_deliveries d where d.tenant_id = $1 and d.endpoint_id = $2 and d.id = $3
            """, Sql.P(tenantId), Sql.P(endpointId), Sql.P(id)))
        await using (var reader = await cmd.ExecuteReaderAsync(ct))
        {
            delivery = await reader.ReadAsync(ct) ? ReadDelivery(reader) : null;
        }
        if (delivery is null) return null;
        await using var attempts = db.Command("""
            select attempt, at, status_code, latency_ms, error, response_head from webhook_attempts where delivery_id = $1 order by attempt
            """, Sql.P(id));
        await using var r = await attempts.ExecuteReaderAsync(ct);
        var log = new List<WebhookAttemptRecord>();
        while (await r.ReadAsync(ct))
            log.Add(new WebhookAttemptRecord(r.GetInt32(0), r.GetTimestamp(1), r.GetInt32OrNull(2), r.GetInt32(3), r.GetStringOrNull(4), r.GetStringOrNull(5)));
        return delivery with { AttemptLog = log };
    }

    /// <summary>
    /// Sends a delivery again: the same id (receivers that kept it can tell) and the same body, due
    /// now, with a fresh retry period. False when it is not the tenant's or is being sent right now.
    /// </summary>
    public async Task<bool> RedeliverAsync(Guid tenantId, Guid endpointId, Guid id, string actor, CancellationToken ct)
    {
        await using var conn = await db.OpenConnectionAsync(ct);
        await using var tx = await conn.BeginTransactionAsync(ct);
        await using (var cmd = conn.Command("""
            update webhook_deliveries set state = 'pending', next_attempt_at = now(), redelivered_at = now(), finished_at = null
            where tenant_id = $1 and endpoint_id = $2 and id = $3 and state <> 'pending'
            """, tx, Sql.P(tenantId), Sql.P(endpointId), Sql.P(id)))
        {
            if (await cmd.ExecuteNonQueryAsync(ct) == 0) return false;
        }
        await using (var cmd = conn.Command("insert into audit_log (actor, action, tenant_id, target) values ($1, 'webhook.redeliver', $2, $3)", tx,
                         Sql.P(actor), Sql.P(tenantId), Sql.P($"webhook_delivery:{id}")))
        {
            await cmd.ExecuteNonQueryAsync(ct);
        }
        await tx.CommitAsync(ct);
        return true;
    }

    /// <summary>Test deliveries that may wait for one endpoint at once: a test is a request the platform makes for the tenant, so their number is bounded.</summary>
    public const int MaxPendingTests = 10;

    /// <summary>
    /// Queues a test event (type webhook.test) to the endpoint, due now; its id, <see cref="Guid.Empty"/>
    /// when the endpoint is not the tenant's, or null when <see cref="MaxPendingTests"/> are already
    /// waiting. The endpoint's row is locked first, so concurrent requests count each other's tests.
    /// </summary>
    public async Task<Guid?> SendTestAsync(Guid tenantId, Guid endpointId, CancellationToken ct)
    {
        await using var conn = await db.OpenConnectionAsync(ct);
        await using var tx = await conn.BeginTransactionAsync(ct);
        await using (var lockEndpoint = conn.Command("select 1 from webhook_endpoints where tenant_id = $1 and id = $2 for update", tx,
                         Sql.P(tenantId), Sql.P(endpointId)))
        {
            if (await lockEndpoint.ExecuteScalarAsync(ct) is null) return Guid.Empty;
        }
        var id = Guid.CreateVersion7();
        await using var cmd = conn.Command($$"""
            insert into webhook_deliveries (id, endpoint_id, tenant_id, event_type, payload)
            select $1, w.id, w.tenant_id, '{{WebhookEvents.Test}}',
                   jsonb_build_object('type', '{{WebhookEvents.Test}}',
                                      'timestamp', to_char(now() at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
                                      'data', jsonb_build_object('endpoint_id', w.id, 'tenant_id', w.tenant_id))::text
            from webhook_endpoints w where w.tenant_id = $2 and w.id = $3
              and (select count(*) from webhook_deliveries t
                   where t.endpoint_id = w.id and t.event_type = '{{WebhookEvents.Test}}' and t.state = 'pending') < {{MaxPendingTests}}
            """, tx, Sql.P(id), Sql.P(tenantId), Sql.P(endpointId));
        var queued = await cmd.ExecuteNonQueryAsync(ct) == 1;
        await tx.CommitAsync(ct);
        return queued ? id : null;
    }

    /// <summary>
    /// Fails up to <paramref name="batchSize"/> deliveries of disabled endpoints whose retry period
    /// is over: nothing sends them, so without this they would wait, and be kept, for good. Within
    /// the period they wait, and an endpoint enabled again gets them.
    /// </summary>
    public async Task<int> FailStrandedAsync(TimeSpan retryPeriod, int batchSize, CancellationToken ct)
    {
        await using var cmd = db.Command($$"""
            update webhook_deliveries d set state = 'failed', finished_at = now(),
                last_error = 'not sent: the endpoint was disabled for the whole retry period'
            where d.id in (
                select d.id from webhook_deliveries d join webhook_endpoints w on w.id = d.endpoint_id and not w.enabled
                where d.state = 'pending' and {{RetriedSince}} <= now() - make_interval(secs => $1)
                limit $2)
            """, Sql.P(retryPeriod.TotalSeconds), Sql.P(batchSize));
        return await cmd.ExecuteNonQueryAsync(ct);
    }

    /// <summary>Deletes up to <paramref name="batchSize"/> deliveries finished before <paramref name="retention"/> ago (with their attempts).</summary>
    public async Task<int> DeleteFinishedAsync(TimeSpan retention, int batchSize, CancellationToken ct)
    {
        await using var cmd = db.Command("""
            delete from webhook_deliveries where id in (
                select id from webhook_deliveries
                where state <> 'pending' and finished_at < now() - make_interval(secs => $1)
                order by finished_at limit $2)
            """, Sql.P(retention.TotalSeconds), Sql.P(batchSize));
        return await cmd.ExecuteNonQueryAsync(ct);
    }

    /// <summary>Deliveries due now and waiting, and how long the oldest of them has been due (for the backlog gauges).</summary>
    public async Task<(long Due, TimeSpan OldestAge)> BacklogAsync(CancellationToken ct)
    {
        await using var cmd = db.Command("""
            select count(*), coalesce(extract(epoch from now() - min(d.next_attempt_at)), 0)::float8
            from webhook_deliveries d join webhook_endpoints w on w.id = d.endpoint_id and w.enabled
            where d.state = 'pending' and d.next_attempt_at <= now()
            """);
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        await reader.ReadAsync(ct);
        return (reader.GetInt64(0), TimeSpan.FromSeconds(reader.GetDouble(1)));
    }

    private static WebhookDeliveryRecord ReadDelivery(NpgsqlDataReader r) => new()
    {
        Id = r.GetGuid(0),
        EndpointId = r.GetGuid(1),
        EventType = r.GetString(2),
        ExecutionId = r.IsDBNull(3) ? null : r.GetGuid(3),
        State = r.GetString(4),
        Attempts = r.GetInt32(5),
        CreatedAt = r.GetTimestamp(6),
        NextAttemptAt = r.GetTimestampOrNull(7),
        FinishedAt = r.GetTimestampOrNull(8),
        LastStatus = r.GetInt32OrNull(9),
        LastError = r.GetStringOrNull(10),
    };
}
