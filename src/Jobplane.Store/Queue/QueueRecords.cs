using Jobplane.Api;

namespace Jobplane.Store;

/// <summary>A lease a worker says it holds: the execution and the token its claim returned.</summary>
public sealed record AttemptLease(Guid ExecutionId, Guid LeaseToken);

/// <summary>A log line to append; <see cref="Stream"/> is stdout, stderr or null.</summary>
public sealed record NewLogLine(string Content, string? Stream = null);

/// <summary>An attempt a claim began: the lease it holds until <see cref="LeaseExpiresAt"/>, and what to run.</summary>
public sealed record ClaimedAttempt(
    Guid ExecutionId,
    Guid LeaseToken,
    int Attempt,
    int MaxAttempts,
    DateTimeOffset LeaseExpiresAt,
    AttemptPayload Payload);

/// <summary>What a worker needs to run one attempt, read from the execution and its job by the claim.</summary>
public sealed record AttemptPayload(
    Guid JobId,
    Guid TenantId,
    string JobName,
    string Image,
    IReadOnlyList<string> Command,
    int TimeoutSeconds,
    Priority Priority)
{
    /// <summary>W3C traceparent the attempt continues; null when not traced.</summary>
    public string? TraceParent { get; init; }
    /// <summary>When the execution became due (submitted, scheduled time, or retry time).</summary>
    public DateTimeOffset? ScheduledAt { get; init; }
    /// <summary>What the job asks for; null when nothing.</summary>
    public ResourceRequest? Resources { get; init; }
    /// <summary>The job asks for network and its tenant allows it, both as read by the claim.</summary>
    public bool Network { get; init; }
    /// <summary>The job asks to run as root (the worker's operator decides whether it may).</summary>
    public bool RunAsRoot { get; init; }
}
