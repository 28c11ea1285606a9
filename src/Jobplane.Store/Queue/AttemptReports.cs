namespace Jobplane.Store;

/// <summary>How a worker says an attempt ended.</summary>
public sealed record AttemptResult(int? ExitCode, string? Error, string? ResultJson, bool Retryable);

/// <summary>
/// How long to wait before retry n (n = attempts charged so far), given the job's own backoff base
/// and cap in seconds (null: the controller's defaults).
/// </summary>
public delegate TimeSpan BackoffPolicy(int failedAttempts, double? baseSeconds, double? maxSeconds);

/// <summary>
/// How a report was answered: Accepted with the execution's new status, NotFound, LeaseLost, or
/// Refused with the reason (the report cannot be stored as sent; nothing was written and the lease still holds).
/// </summary>
public sealed record CompletionOutcome(LeaseCheck Check, string? Status = null, string? Refused = null);

/// <summary>One attempt's outcome, fenced by the lease token it was claimed with.</summary>
public sealed record Completion(Guid ExecutionId, Guid LeaseToken, AttemptResult Result);

