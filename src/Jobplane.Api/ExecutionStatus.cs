namespace Jobplane.Api;

/// <summary>The status words of an execution, exactly as they appear on the wire and in the database.</summary>
public static class ExecutionStatus
{
    public const string Pending = "PENDING";
    public const string Scheduled = "SCHEDULED";
    public const string Running = "RUNNING";
    /// <summary>An attempt failed and the execution waits for its backoff before running again.</summary>
    public const string Retrying = "RETRYING";
    public const string Succeeded = "SUCCEEDED";
    public const string Failed = "FAILED";
    public const string Cancelled = "CANCELLED";

    public static readonly IReadOnlyList<string> All =
        [Pending, Scheduled, Running, Retrying, Succeeded, Failed, Cancelled];

    public static bool IsTerminal(string status) =>
        status is Succeeded or Failed or Cancelled;

    /// <summary>Accepts any letter case; returns the canonical word or null when unknown.</summary>
    public static string? Parse(string? value)
    {
        if (string.IsNullOrWhiteSpace(value)) return null;
        var upper = value.Trim().ToUpperInvariant();
        return All.Contains(upper) ? upper : null;
    }
}
