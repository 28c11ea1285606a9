using Jobplane.Api;

namespace Jobplane.Store;

/// <summary>
/// Container resources a job asks for, as the API counts them (memory in whole MiB); a null field
/// takes the worker's default.
/// </summary>
public sealed record ResourceRequest(int? MemoryMib = null, double? Cpus = null, int? Pids = null);

/// <summary>A job definition as stored.</summary>
public sealed record JobRecord(
    Guid Id,
    string Name,
    string Image,
    IReadOnlyList<string> Command,
    int TimeoutSeconds,
    Priority Priority,
    int MaxAttempts,
    DateTimeOffset CreatedAt,
    DateTimeOffset UpdatedAt)
{
    public double? RetryBackoffBaseSeconds { get; init; }
    public double? RetryBackoffMaxSeconds { get; init; }
    public IReadOnlyList<int> NonRetryableExitCodes { get; init; } = [];
    /// <summary>What the job asks for; null when it asks for nothing.</summary>
    public ResourceRequest? Resources { get; init; }
    public bool Network { get; init; }
    public bool RunAsRoot { get; init; }
    /// <summary>Lists only: the command was cut to the list's character budget.</summary>
    public bool CommandTruncated { get; init; }
}
