namespace Jobplane.Store;

/// <summary>
/// How an attempt ended, as stored in execution_attempts.outcome (null while it runs). The check
/// constraint of migration 0014 admits exactly these words.
/// </summary>
public static class AttemptOutcome
{
    public const string Succeeded = "succeeded";
    public const string Failed = "failed";
    /// <summary>It ended because a user cancelled its execution while it ran.</summary>
    public const string Cancelled = "cancelled";
    /// <summary>Its worker stopped heartbeating and the lease ran out.</summary>
    public const string LeaseExpired = "lease_expired";
    /// <summary>A draining worker handed it back unfinished; not charged against max_attempts.</summary>
    public const string Released = "released";

    public static readonly IReadOnlyList<string> All = [Succeeded, Failed, Cancelled, LeaseExpired, Released];
}
