namespace Jobplane.Store.Webhooks;

/// <summary>A tenant's webhook endpoint as stored; the secrets are the store's callers' to keep out of answers.</summary>
public sealed record WebhookEndpointRecord
{
    public required Guid Id { get; init; }
    public required Guid TenantId { get; init; }
    public required string Url { get; init; }
    public string? Description { get; init; }
    public required IReadOnlyList<string> Events { get; init; }
    public IReadOnlyList<Guid>? JobIds { get; init; }
    public IReadOnlyList<string>? JobNames { get; init; }
    public required bool Enabled { get; init; }
    public string? DisabledReason { get; init; }
    public required string Secret { get; init; }
    /// <summary>The secret before the last rotation, while it still signs.</summary>
    public string? PreviousSecret { get; init; }
    public DateTimeOffset? PreviousSecretExpiresAt { get; init; }
    public DateTimeOffset? FailingSince { get; init; }
    public required DateTimeOffset CreatedAt { get; init; }
    public required DateTimeOffset UpdatedAt { get; init; }
}

/// <summary>What an endpoint is made with, or changed to (null fields of a change stay as they are).</summary>
public sealed record WebhookEndpointSpec
{
    public string? Url { get; init; }
    public string? Description { get; init; }
    public IReadOnlyList<string>? Events { get; init; }
    public IReadOnlyList<Guid>? JobIds { get; init; }
    public IReadOnlyList<string>? JobNames { get; init; }
    public bool? Enabled { get; init; }
    /// <summary>On a change: true clears the job filters the request did not give (an empty list given means "every job").</summary>
    public bool ClearJobIds { get; init; }
    public bool ClearJobNames { get; init; }
}

public enum WebhookRefusal { None, TooMany, NotFound }

/// <summary>One delivery of one event to one endpoint, with its attempts so far.</summary>
public sealed record WebhookDeliveryRecord
{
    public required Guid Id { get; init; }
    public required Guid EndpointId { get; init; }
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
    public IReadOnlyList<WebhookAttemptRecord> AttemptLog { get; init; } = [];
}

public sealed record WebhookAttemptRecord(int Attempt, DateTimeOffset At, int? StatusCode, int LatencyMs, string? Error, string? ResponseHead);

/// <summary>A delivery claimed for sending: what to send, where, and with which secrets.</summary>
public sealed record ClaimedDelivery
{
    public required Guid Id { get; init; }
    public required Guid EndpointId { get; init; }
    public required Guid TenantId { get; init; }
    public required string EventType { get; init; }
    public required string Url { get; init; }
    /// <summary>The current secret first, then the previous one while it still signs.</summary>
    public required IReadOnlyList<string> Secrets { get; init; }
    /// <summary>The body; built and frozen at the first attempt.</summary>
    public required string Payload { get; init; }
    /// <summary>This attempt's number (1 for the first).</summary>
    public required int Attempt { get; init; }
    public required DateTimeOffset CreatedAt { get; init; }
    public DateTimeOffset? FailingSince { get; init; }
}

/// <summary>What happened to one attempt, as the dispatcher saw it.</summary>
public sealed record DeliveryOutcome
{
    public int? StatusCode { get; init; }
    public required int LatencyMs { get; init; }
    public string? Error { get; init; }
    public string? ResponseHead { get; init; }
    /// <summary>The delivery is done (delivered, or failed for good).</summary>
    public required bool Final { get; init; }
    public required bool Delivered { get; init; }
    /// <summary>When not final: when to try again.</summary>
    public TimeSpan RetryIn { get; init; }
    /// <summary>Disable the endpoint, for this reason (410 Gone, or failing for the whole retry period).</summary>
    public string? DisableEndpoint { get; init; }
}
