namespace Jobplane.Store;

/// <summary>
/// What moved an execution, as stored in execution_events.kind; the check constraint of migration
/// 0014 admits exactly these words.
/// </summary>
public enum EventKind
{
    /// <summary>A tenant submitted it (PENDING when due, SCHEDULED otherwise).</summary>
    Submitted,
    /// <summary>A worker claimed it and an attempt began.</summary>
    Claimed,
    Succeeded,
    /// <summary>The worker reported a failure (retryable or not).</summary>
    Failed,
    /// <summary>Its lease expired: the worker stopped heartbeating.</summary>
    Lost,
    /// <summary>A tenant cancelled it (a running one only records the request).</summary>
    Cancelled,
    /// <summary>A draining worker handed the attempt back.</summary>
    HandedBack,
    /// <summary>A scheduled run or a retry became due.</summary>
    Promoted,
    /// <summary>A new execution created from a dead letter.</summary>
    RetriedFromDlq,
}

/// <summary>The stored words of <see cref="EventKind"/>.</summary>
public static class EventKinds
{
    /// <summary>
    /// The longest reason an event keeps (execution_events.reason's check); the full error stays on
    /// the attempt and the execution.
    /// </summary>
    public const int MaxReasonChars = 1000;

    public static string Word(this EventKind kind) => kind switch
    {
        EventKind.Submitted => "submitted",
        EventKind.Claimed => "claimed",
        EventKind.Succeeded => "succeeded",
        EventKind.Failed => "failed",
        EventKind.Lost => "lost",
        EventKind.Cancelled => "cancelled",
        EventKind.HandedBack => "handed_back",
        EventKind.Promoted => "promoted",
        EventKind.RetriedFromDlq => "retried_from_dlq",
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, null),
    };

    public static readonly IReadOnlyList<string> All = Enum.GetValues<EventKind>().Select(Word).ToList();
}
