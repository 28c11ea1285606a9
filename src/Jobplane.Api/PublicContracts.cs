using System.Text.Json;

namespace Jobplane.Api;

// Public API bodies (tenant API key or administrator). Field names are snake_case on the wire;
// see JobplaneJsonContext. Optional inputs are nullable so that "absent" is distinguishable.

/// <summary>POST /tenants and PATCH /tenants/{id}.</summary>
public sealed record TenantRequest
{
    public string? Name { get; init; }
    public double? RateLimit { get; init; }
    public int? RateLimitBurst { get; init; }
    public int? MaxConcurrentExecutions { get; init; }
    /// <summary>Share of scarce workers relative to other tenants (1..1000, default 1).</summary>
    public int? Weight { get; init; }
    /// <summary>Runtimes the tenant's executions may run on (exec, docker, kubernetes); an empty list lifts the restriction.</summary>
    public IReadOnlyList<string>? AllowedRuntimes { get; init; }
    /// <summary>Whether the tenant's jobs may ask for network access (default false).</summary>
    public bool? AllowNetwork { get; init; }
    /// <summary>Days the tenant's finished executions and dead letters are kept (1..36500); 0 returns to the operator's defaults.</summary>
    public int? RetentionDays { get; init; }
    /// <summary>Log bytes stored per execution of the tenant (1024..2^40); 0 returns to the operator's LOG_MAX_BYTES_PER_EXECUTION.</summary>
    public long? LogMaxBytesPerExecution { get; init; }
    /// <summary>Followed log streams the tenant may hold at once on one replica (1..100000); 0 returns to the operator's LOG_FOLLOW_MAX_PER_TENANT.</summary>
    public int? LogFollowMax { get; init; }
    /// <summary>
    /// The most of the fleet's slots the tenant may hold while another tenant has ready work, as a
    /// fraction above 0 and at most 1 (1: no cap); absent on creation: the operator's FAIR_SHARE_MAX_FRACTION.
    /// </summary>
    public double? MaxFleetShare { get; init; }
}

/// <summary>The answer to POST /tenants: the API key is shown here once and never again.</summary>
public sealed record CreateTenantResponse(Guid TenantId, string Name, string ApiKey);

/// <summary>POST /jobs.</summary>
public sealed record CreateJobRequest
{
    public string? Name { get; init; }
    public string? Image { get; init; }
    public IReadOnlyList<string>? Command { get; init; }
    /// <summary>Seconds an attempt may run before it is killed.</summary>
    public int? DefaultTimeout { get; init; }
    public Priority? Priority { get; init; }
    public int? MaxAttempts { get; init; }
    /// <summary>Retry n waits between half and all of min(max, base * 2^(n-1)) seconds; null: the controller's default.</summary>
    public double? RetryBackoffBase { get; init; }
    public double? RetryBackoffMax { get; init; }
    /// <summary>Exit codes that mean "permanent failure": the execution fails at once, without retry.</summary>
    public IReadOnlyList<int>? NonRetryableExitCodes { get; init; }
    /// <summary>What the job's container may use; an absent field (or all of it) takes the worker's default.</summary>
    public JobResources? Resources { get; init; }
    /// <summary>The job asks for network access; refused (403) unless the administrator allows network for the tenant.</summary>
    public bool? Network { get; init; }
    /// <summary>
    /// The job asks to run as root (uid 0) instead of the worker's non-root user. The worker's operator
    /// decides: a Docker worker not allowing root (DOCKER_ALLOW_ROOT) fails the attempt without retry.
    /// </summary>
    public bool? RunAsRoot { get; init; }
}

/// <summary>
/// Container resources a job asks for. Each absent field takes the worker's default; a worker refuses
/// (without retry) an attempt asking for more than its maximum. Runtimes that cannot enforce limits
/// (exec) ignore them.
/// </summary>
public sealed record JobResources
{
    /// <summary>Memory in MiB (6..1048576); there is no swap on top.</summary>
    public int? MemoryMib { get; init; }
    /// <summary>CPU time in CPUs (0.01..1024; 0.5 is half of one CPU).</summary>
    public double? Cpus { get; init; }
    /// <summary>Processes and threads together (1..1000000).</summary>
    public int? Pids { get; init; }
}

public sealed record CreateJobResponse(Guid JobId);

public sealed record JobView(
    Guid Id,
    string Name,
    string Image,
    IReadOnlyList<string> Command,
    int DefaultTimeout,
    Priority Priority,
    int MaxAttempts,
    DateTimeOffset CreatedAt,
    DateTimeOffset UpdatedAt)
{
    public double? RetryBackoffBase { get; init; }
    public double? RetryBackoffMax { get; init; }
    public IReadOnlyList<int> NonRetryableExitCodes { get; init; } = [];
    /// <summary>What the job asked for; null when it asked for nothing.</summary>
    public JobResources? Resources { get; init; }
    /// <summary>Whether the job asks for network access (it gets it only while the tenant allows network).</summary>
    public bool Network { get; init; }
    /// <summary>Whether the job asks to run as root (it does only on a worker whose operator allows it).</summary>
    public bool RunAsRoot { get; init; }
    /// <summary>
    /// Lists only: true when the command shown is cut to the list's budget (its first characters;
    /// GET /jobs/{id} answers it whole); absent otherwise.
    /// </summary>
    public bool? CommandTruncated { get; init; }
}

/// <summary>A page of jobs; pass NextCursor as cursor for the next page (absent: the last page).</summary>
public sealed record JobList(IReadOnlyList<JobView> Jobs, int Limit, int Offset)
{
    public string? NextCursor { get; init; }
}

/// <summary>POST /jobs/{id}/run (the body is optional).</summary>
public sealed record RunJobRequest
{
    /// <summary>Run no earlier than this instant (RFC3339, any offset).</summary>
    public DateTimeOffset? ScheduledAt { get; init; }
    /// <summary>Overrides the job's default timeout for this execution, in seconds.</summary>
    public int? Timeout { get; init; }
    public Priority? Priority { get; init; }
}

/// <summary>
/// The answer to a run. With an Idempotency-Key that was already used (same tenant, within 24 h),
/// it names the execution the first request created, and Replayed is true.
/// </summary>
public sealed record RunJobResponse(Guid ExecutionId, string Status)
{
    public bool? Replayed { get; init; }
}

/// <summary>The answer to a cancel: the status after the request (CANCELLED, or RUNNING while the worker stops it).</summary>
public sealed record CancelResponse(Guid ExecutionId, string Status, bool CancelRequested);

/// <summary>The answer to a bulk cancel of a job's executions.</summary>
public sealed record BulkCancelResponse(int Cancelled, int Stopping);

/// <summary>POST /executions/dlq/retry and /executions/dlq/purge: all dead letters, or one job's.</summary>
public sealed record DlqBulkRequest
{
    public Guid? JobId { get; init; }
}

public sealed record DlqBulkRetryResponse(int Retried, IReadOnlyList<Guid> NewExecutionIds);

public sealed record DlqPurgeResponse(int Purged);

public sealed record AttemptView(
    int Attempt,
    string WorkerId,
    DateTimeOffset StartedAt,
    DateTimeOffset? EndedAt,
    int? ExitCode,
    string? Error,
    string? Outcome);

public sealed record ExecutionView
{
    public required Guid Id { get; init; }
    public required Guid JobId { get; init; }
    public string? JobName { get; init; }
    public required string Status { get; init; }
    public required Priority Priority { get; init; }
    /// <summary>The number of the latest attempt, counting attempts handed back (see <see cref="HandedBack"/>).</summary>
    public required int Attempt { get; init; }
    public required int MaxAttempts { get; init; }
    /// <summary>
    /// Attempts a draining worker handed back unfinished: not charged against max_attempts, so the
    /// charged attempts are <c>attempt - handed_back</c>.
    /// </summary>
    public int HandedBack { get; init; }
    public required DateTimeOffset ScheduledAt { get; init; }
    public required DateTimeOffset CreatedAt { get; init; }
    public DateTimeOffset? StartedAt { get; init; }
    public DateTimeOffset? CompletedAt { get; init; }
    /// <summary>When a cancel was requested for this execution (it may still be stopping).</summary>
    public DateTimeOffset? CancelRequestedAt { get; init; }
    /// <summary>
    /// PENDING only: what it waits for when no worker heard from in the last minute could run it
    /// (e.g. "a worker that grants network"); absent otherwise.
    /// </summary>
    public string? WaitingFor { get; init; }
    public int? ExitCode { get; init; }
    public string? Error { get; init; }
    public JsonElement? Result { get; init; }
    public int TimeoutSeconds { get; init; }
    /// <summary>The schedule that fired it (absent when it was not fired by a schedule), and the due time it fired for.</summary>
    public Guid? ScheduleId { get; init; }
    public DateTimeOffset? ScheduleDueAt { get; init; }
    public IReadOnlyList<AttemptView>? Attempts { get; init; }
}

/// <summary>
/// A page of executions, without their results (GET /executions/{id} answers one with its result);
/// pass NextCursor as cursor for the next page (absent: the last page).
/// </summary>
public sealed record ExecutionList(IReadOnlyList<ExecutionView> Executions, int Limit, int Offset)
{
    public string? NextCursor { get; init; }
}

public sealed record LogEntry(long Id, string Content, DateTimeOffset CreatedAt, string? Stream = null);

public sealed record LogPage(IReadOnlyList<LogEntry> Logs);

public sealed record DlqEntry(
    Guid Id,
    Guid ExecutionId,
    Guid JobId,
    string JobName,
    Priority Priority,
    string ErrorMessage,
    int Attempts,
    DateTimeOffset FailedAt);

public sealed record DlqRetryResponse(Guid NewExecutionId);

/// <summary>The final event of a followed log stream: the execution's terminal status.</summary>
public sealed record LogStreamEnd(Guid ExecutionId, string Status);

/// <summary>
/// The event that ends a followed log stream which reached the server's LOG_FOLLOW_MAX_DURATION
/// before the execution finished: reconnect with Last-Event-ID (or after_id) = LastEventId to go on
/// without loss or repetition.
/// </summary>
public sealed record LogStreamReconnect(Guid ExecutionId, long LastEventId, string Reason);

public sealed record HealthResponse(string Status);
