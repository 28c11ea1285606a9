namespace Jobplane.Api;

/// <summary>
/// POST /webhooks (url and events are required) and PATCH /webhooks/{id} (only the fields given
/// change; an empty job_ids or job_names removes that filter).
/// </summary>
public sealed record WebhookRequest
{
    /// <summary>https (http only where the operator allows it); its host may not be a private, loopback or link-local address.</summary>
    public string? Url { get; init; }
    public string? Description { get; init; }
    /// <summary>execution.started, execution.succeeded, execution.failed, execution.dead_lettered, execution.cancelled, execution.retrying, schedule.fired, schedule.skipped.</summary>
    public IReadOnlyList<string>? Events { get; init; }
    /// <summary>Only these jobs' executions (at most 100); absent: every job.</summary>
    public IReadOnlyList<Guid>? JobIds { get; init; }
    /// <summary>Only the executions of jobs with these names (at most 100); absent: every job.</summary>
    public IReadOnlyList<string>? JobNames { get; init; }
    public bool? Enabled { get; init; }
}

public sealed record WebhookView
{
    public required Guid Id { get; init; }
    public required string Url { get; init; }
    public string? Description { get; init; }
    public required IReadOnlyList<string> Events { get; init; }
    public IReadOnlyList<Guid>? JobIds { get; init; }
    public IReadOnlyList<string>? JobNames { get; init; }
    public required bool Enabled { get; init; }
    /// <summary>Why the platform disabled it (410 Gone, or every delivery failing for WEBHOOK_RETRY_PERIOD).</summary>
    public string? DisabledReason { get; init; }
    /// <summary>Since when its deliveries have been failing; absent once one succeeds.</summary>
    public DateTimeOffset? FailingSince { get; init; }
    /// <summary>After a rotation: until when the previous secret also signs.</summary>
    public DateTimeOffset? PreviousSecretExpiresAt { get; init; }
    /// <summary>The signing secret (whsec_...): in the answers to create and rotate only, never again.</summary>
    public string? Secret { get; init; }
    public required DateTimeOffset CreatedAt { get; init; }
    public required DateTimeOffset UpdatedAt { get; init; }
}

public sealed record WebhookList(IReadOnlyList<WebhookView> Webhooks);

/// <summary>POST /webhooks/{id}/rotate-secret: how long the old secret goes on signing too (default WEBHOOK_SECRET_OVERLAP).</summary>
public sealed record RotateWebhookSecretRequest
{
    public int? OverlapSeconds { get; init; }
}

public sealed record WebhookAttemptView(int Attempt, DateTimeOffset At, int? StatusCode, int LatencyMs, string? Error, string? ResponseHead);

public sealed record WebhookDeliveryView
{
    /// <summary>The webhook-id header: the same on every attempt of this delivery.</summary>
    public required Guid Id { get; init; }
    public required string EventType { get; init; }
    public Guid? ExecutionId { get; init; }
    /// <summary>pending, delivered or failed.</summary>
    public required string State { get; init; }
    public required int Attempts { get; init; }
    public required DateTimeOffset CreatedAt { get; init; }
    public DateTimeOffset? NextAttemptAt { get; init; }
    public DateTimeOffset? FinishedAt { get; init; }
    public int? LastStatus { get; init; }
    public string? LastError { get; init; }
    /// <summary>Each attempt (GET of one delivery only).</summary>
    public IReadOnlyList<WebhookAttemptView>? AttemptLog { get; init; }
}

public sealed record WebhookDeliveryList(IReadOnlyList<WebhookDeliveryView> Deliveries)
{
    /// <summary>Pass as before for the next (older) page; absent on the last page.</summary>
    public Guid? NextBefore { get; init; }
}

public sealed record WebhookTestResponse(Guid DeliveryId);
