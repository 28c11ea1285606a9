using System.Text.Json;
using Jobplane.Api;

namespace Jobplane.Store;

/// <summary>
/// The execution a run created, or, with an idempotency key already used, the execution the first
/// request created (<see cref="Replayed"/>).
/// </summary>
public sealed record SubmittedRun(Guid ExecutionId, string Status, bool Replayed = false);

/// <summary>The executions one batch run created, all with the same first status.</summary>
public sealed record SubmittedBatch(IReadOnlyList<Guid> ExecutionIds, string Status);

/// <summary>An execution's status after a cancel: CANCELLED, or RUNNING while its worker stops it.</summary>
public sealed record CancelOutcome(Guid ExecutionId, string Status, bool CancelRequested);

/// <summary>A job's executions cancelled at once, and those still running that their workers are stopping.</summary>
public sealed record JobCancelOutcome(int Cancelled, int Stopping);

/// <summary>An unretried dead letter: an execution that failed for good, with its job.</summary>
public sealed record DeadLetterRecord(
    Guid Id,
    Guid ExecutionId,
    Guid JobId,
    string JobName,
    Priority Priority,
    string ErrorMessage,
    int Attempts,
    DateTimeOffset FailedAt);

/// <summary>Dead letters re-run as new executions, and those executions' ids.</summary>
public sealed record RetriedDeadLetters(int Retried, IReadOnlyList<Guid> NewExecutionIds);

/// <summary>One attempt of an execution, as recorded in execution_attempts.</summary>
public sealed record AttemptRecord(
    int Attempt,
    string WorkerId,
    DateTimeOffset StartedAt,
    DateTimeOffset? EndedAt,
    int? ExitCode,
    string? Error,
    string? Outcome);

/// <summary>An execution as stored, with its job's name.</summary>
public sealed record ExecutionRecord
{
    public required Guid Id { get; init; }
    public required Guid JobId { get; init; }
    public required string JobName { get; init; }
    public required string Status { get; init; }
    public required Priority Priority { get; init; }
    /// <summary>The number of the latest attempt, counting attempts handed back.</summary>
    public required int Attempt { get; init; }
    public required int MaxAttempts { get; init; }
    /// <summary>Attempts a draining worker handed back unfinished (free_attempts): not charged against max_attempts.</summary>
    public required int HandedBack { get; init; }
    public required DateTimeOffset ScheduledAt { get; init; }
    public required DateTimeOffset CreatedAt { get; init; }
    public DateTimeOffset? StartedAt { get; init; }
    public DateTimeOffset? CompletedAt { get; init; }
    public DateTimeOffset? CancelRequestedAt { get; init; }
    public int? ExitCode { get; init; }
    public string? Error { get; init; }
    /// <summary>The result the job wrote back; always null in a list (the database does not send it).</summary>
    public JsonElement? Result { get; init; }
    public required int TimeoutSeconds { get; init; }
    /// <summary>The schedule that fired it, and the due time it fired for; null when it was not fired by a schedule.</summary>
    public Guid? ScheduleId { get; init; }
    public DateTimeOffset? ScheduleDueAt { get; init; }
    /// <summary>Its attempts in order when read one at a time; null in a list.</summary>
    public IReadOnlyList<AttemptRecord>? Attempts { get; init; }
}

/// <summary>One stored log line of an execution; <see cref="Id"/> orders them.</summary>
public sealed record LogRecord(long Id, string Content, DateTimeOffset CreatedAt, string? Stream = null);
