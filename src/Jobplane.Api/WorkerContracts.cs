using System.Text.Json;
using System.Text.Json.Serialization;

namespace Jobplane.Api;

// Worker API bodies (worker credential). Every call about a running attempt carries the lease
// token the claim returned: the controller refuses calls from an attempt that no longer holds the lease.

/// <summary>POST /internal/executions/dequeue: claim up to Limit executions, waiting up to WaitSeconds.</summary>
public sealed record DequeueRequest
{
    public int Limit { get; init; } = 1;
    public IReadOnlyList<Guid>? TenantIds { get; init; }
    /// <summary>Stable identity of the worker process, recorded on each attempt.</summary>
    public string? WorkerId { get; init; }
    /// <summary>Long-poll bound; 0 answers at once. The controller caps it.</summary>
    public double? WaitSeconds { get; init; }
    /// <summary>The worker's RUNTIME: executions of tenants that do not allow it are not handed to this worker.</summary>
    public string? Runtime { get; init; }
    /// <summary>
    /// What the worker can grant; only executions that fit are handed to it. Absent (an older worker):
    /// the class of its runtime, and no request checked.
    /// </summary>
    public WorkerCapabilities? Capabilities { get; init; }
}

/// <summary>What a worker announces it can run. Absent fields are not checked.</summary>
public sealed record WorkerCapabilities
{
    /// <summary>exec and/or container; absent: the class of the worker's runtime.</summary>
    public IReadOnlyList<string>? RuntimeClasses { get; init; }
    /// <summary>Whether a job asking for network gets it here (docker: DOCKER_NETWORK is not none).</summary>
    public bool? Network { get; init; }
    /// <summary>Whether a job asking to run as root may (docker: DOCKER_ALLOW_ROOT).</summary>
    public bool? RunAsRoot { get; init; }
    /// <summary>The most a job may ask for (docker: DOCKER_*_LIMIT_MAX).</summary>
    public int? MaxMemoryMib { get; init; }
    public double? MaxCpus { get; init; }
    public int? MaxPids { get; init; }
    /// <summary>
    /// Executions the worker runs at once (WORKER_CONCURRENCY), 1..100000. The slots of the workers
    /// seen in the last minute add up to the fleet's slots, of which one tenant gets at most its fair
    /// share while others wait. Absent (an older worker): it adds nothing to the fleet.
    /// </summary>
    public int? Slots { get; init; }
}

/// <summary>LeaseSeconds: the lease each claim or heartbeat grants; a worker that cannot heartbeat stops its jobs well within it.</summary>
public sealed record DequeueResponse(IReadOnlyList<ClaimedExecution> Executions)
{
    public double? LeaseSeconds { get; init; }
}

/// <summary>What a worker needs to run one attempt.</summary>
public sealed record ExecutionPayload(
    Guid JobId,
    Guid TenantId,
    string JobName,
    string Image,
    IReadOnlyList<string> Command,
    int TimeoutSeconds,
    Priority Priority)
{
    /// <summary>W3C traceparent the attempt continues (the claim's span in the execution's trace); absent when not traced.</summary>
    public string? TraceParent { get; init; }
    /// <summary>When the execution became due (submitted, scheduled time, or retry time): pickup latency is measured from it.</summary>
    public DateTimeOffset? ScheduledAt { get; init; }
    /// <summary>
    /// What the job asked for; absent when nothing. Absent fields, like network false, are left out of
    /// the payload, so a job asking for nothing reads the same to a worker that predates them.
    /// </summary>
    public JobResources? Resources { get; init; }
    /// <summary>
    /// Network access for this attempt: the job asks for it and its tenant allows network, both
    /// read at claim time (an administrator revoking the permission affects the next attempt).
    /// </summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public bool Network { get; init; }
    /// <summary>
    /// The job asks to run as root. The worker decides whether it may (the operator's setting), so
    /// this is the job's request as it is, left out when false like network.
    /// </summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public bool RunAsRoot { get; init; }
}

public sealed record ClaimedExecution(
    Guid ExecutionId,
    Guid LeaseToken,
    int Attempt,
    int MaxAttempts,
    DateTimeOffset LeaseExpiresAt,
    ExecutionPayload Payload);

/// <summary>
/// POST /internal/executions/{id}/resume: a restarted worker takes over an attempt its previous life
/// left running (a Kubernetes Job outlives the worker's process), by the lease token it kept.
/// </summary>
public sealed record ResumeRequest
{
    public Guid? LeaseToken { get; init; }
    public string? WorkerId { get; init; }
}

/// <summary>The attempt as its claim gave it; the log lines already stored for it, per stream; how long it has run.</summary>
public sealed record ResumeResponse(ClaimedExecution Execution, long LoggedStdout, long LoggedStderr, double RunningSeconds);

/// <summary>PUT /internal/executions/{id}/heartbeat.</summary>
public sealed record HeartbeatRequest
{
    public Guid? LeaseToken { get; init; }
}

public sealed record HeartbeatResponse(string Status, DateTimeOffset LeaseExpiresAt);

public sealed record LeaseRef(Guid ExecutionId, Guid LeaseToken);

/// <summary>POST /internal/heartbeats: extend every lease a worker holds in one call.</summary>
public sealed record WorkerHeartbeatRequest
{
    public string? WorkerId { get; init; }
    public IReadOnlyList<LeaseRef> Leases { get; init; } = [];
}

/// <summary>
/// Extended: leases still held (each holds at least half a lease from now). Lost: leases this worker
/// no longer holds; kill those attempts at once. Cancelled: held, but a user asked to cancel; stop them.
/// </summary>
public sealed record WorkerHeartbeatResponse(IReadOnlyList<Guid> Extended, IReadOnlyList<Guid> Lost)
{
    public IReadOnlyList<Guid> Cancelled { get; init; } = [];
    public double? LeaseSeconds { get; init; }
}

/// <summary>PUT /internal/executions/{id}/result.</summary>
public record ResultRequest
{
    public int? ExitCode { get; init; }
    public string? Error { get; init; }
    public JsonElement? Result { get; init; }
    public Guid? LeaseToken { get; init; }
    /// <summary>False when retrying cannot help (e.g. the job broke the result contract).</summary>
    public bool? Retryable { get; init; }
    /// <summary>The worker's RUNTIME, for the execution duration metric (optional).</summary>
    public string? Runtime { get; init; }
    /// <summary>How long the job ran in this attempt, as the worker measured it (optional; for metrics).</summary>
    public double? DurationSeconds { get; init; }
}

public sealed record ResultResponse(string Status);

/// <summary>One attempt's outcome in POST /internal/results: a <see cref="ResultRequest"/> naming its execution.</summary>
public sealed record ResultReport : ResultRequest
{
    public Guid? ExecutionId { get; init; }
    /// <summary>W3C traceparent of the worker's report span: the controller's completion span continues it.</summary>
    public string? TraceParent { get; init; }
}

/// <summary>
/// POST /internal/results: many attempts' outcomes, written in one transaction. Each is fenced by its
/// own lease token and answered on its own, in request order.
/// </summary>
public sealed record ResultBatchRequest
{
    public IReadOnlyList<ResultReport>? Results { get; init; }
}

/// <summary>How one report of a batch was answered.</summary>
public static class ResultAnswers
{
    /// <summary>Stored; <see cref="ResultAnswer.Status"/> is the execution's new status.</summary>
    public const string Accepted = "accepted";
    /// <summary>This lease token no longer holds the execution: nothing was written.</summary>
    public const string LeaseLost = "lease_lost";
    /// <summary>No such execution (or not one this credential may touch).</summary>
    public const string NotFound = "not_found";
    /// <summary>The report cannot be stored as sent (e.g. its result is too large or not storable JSON); nothing was written and the lease still holds.</summary>
    public const string Refused = "refused";
}

public sealed record ResultAnswer(Guid ExecutionId, string Outcome)
{
    public string? Status { get; init; }
    /// <summary>Why a report was refused, and its error code.</summary>
    public string? Error { get; init; }
    public string? Code { get; init; }
}

public sealed record ResultBatchResponse(IReadOnlyList<ResultAnswer> Results);

public sealed record LogLine(string Content, string? Stream = null);

/// <summary>POST /internal/executions/{id}/logs: either one Content chunk or a batch of Lines.</summary>
public sealed record AppendLogsRequest
{
    public string? Content { get; init; }
    public string? Stream { get; init; }
    public IReadOnlyList<LogLine>? Lines { get; init; }
    public Guid? LeaseToken { get; init; }
}

/// <summary>
/// The answer to a log append once the execution's log is full (cut at the operator's
/// LOG_MAX_BYTES_PER_EXECUTION): 200 with this body; while there is room the answer stays 204 with
/// none. The batch was accepted (up to the cap); a worker may stop shipping this attempt's output.
/// </summary>
public sealed record AppendLogsResponse(bool LogFull);

/// <summary>POST /internal/executions/{id}/release: give a lease back unfinished (worker shutting down).</summary>
public sealed record ReleaseRequest
{
    public Guid? LeaseToken { get; init; }
    public string? Reason { get; init; }
}
