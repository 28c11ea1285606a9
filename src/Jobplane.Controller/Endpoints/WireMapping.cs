using Jobplane.Api;
using Jobplane.Store;

namespace Jobplane.Controller.Endpoints;

/// <summary>
/// Between the store's records and the wire's: the store takes parameter records and returns its
/// own types, and the endpoints translate them here, field by field. A field the wire leaves out
/// unless it is true (replayed, command_truncated, expired) is null here when the store says false.
/// </summary>
internal static class WireMapping
{
    // Requests: what the endpoints pass to the store.

    public static TenantSettings ToSettings(this TenantRequest r) => new()
    {
        Name = r.Name,
        RateLimit = r.RateLimit,
        RateLimitBurst = r.RateLimitBurst,
        MaxConcurrentExecutions = r.MaxConcurrentExecutions,
        Weight = r.Weight,
        AllowedRuntimes = r.AllowedRuntimes,
        AllowNetwork = r.AllowNetwork,
        RetentionDays = r.RetentionDays,
        LogMaxBytesPerExecution = r.LogMaxBytesPerExecution,
        LogFollowMax = r.LogFollowMax,
        MaxFleetShare = r.MaxFleetShare,
    };

    public static AttemptLease ToStore(this LeaseRef l) => new(l.ExecutionId, l.LeaseToken);

    public static NewLogLine ToStore(this LogLine l) => new(l.Content, l.Stream);

    // Answers: what the endpoints send back.

    public static RunJobResponse ToWire(this SubmittedRun run) =>
        new(run.ExecutionId, run.Status) { Replayed = run.Replayed ? true : null };

    public static BatchRunResponse ToWire(this SubmittedBatch batch) => new(batch.ExecutionIds, batch.Status);

    public static CancelResponse ToWire(this CancelOutcome c) => new(c.ExecutionId, c.Status, c.CancelRequested);

    public static BulkCancelResponse ToWire(this JobCancelOutcome c) => new(c.Cancelled, c.Stopping);

    public static DlqEntry ToWire(this DeadLetterRecord d) =>
        new(d.Id, d.ExecutionId, d.JobId, d.JobName, d.Priority, d.ErrorMessage, d.Attempts, d.FailedAt);

    public static DlqBulkRetryResponse ToWire(this RetriedDeadLetters r) => new(r.Retried, r.NewExecutionIds);

    public static AttemptView ToWire(this AttemptRecord a) =>
        new(a.Attempt, a.WorkerId, a.StartedAt, a.EndedAt, a.ExitCode, a.Error, a.Outcome);

    public static ExecutionView ToWire(this ExecutionRecord e) => new()
    {
        Id = e.Id,
        JobId = e.JobId,
        JobName = e.JobName,
        Status = e.Status,
        Priority = e.Priority,
        Attempt = e.Attempt,
        MaxAttempts = e.MaxAttempts,
        HandedBack = e.HandedBack,
        ScheduledAt = e.ScheduledAt,
        CreatedAt = e.CreatedAt,
        StartedAt = e.StartedAt,
        CompletedAt = e.CompletedAt,
        CancelRequestedAt = e.CancelRequestedAt,
        ExitCode = e.ExitCode,
        Error = e.Error,
        Result = e.Result,
        TimeoutSeconds = e.TimeoutSeconds,
        ScheduleId = e.ScheduleId,
        ScheduleDueAt = e.ScheduleDueAt,
        Attempts = e.Attempts is { } attempts ? [.. attempts.Select(ToWire)] : null,
    };

    public static LogEntry ToWire(this LogRecord l) => new(l.Id, l.Content, l.CreatedAt, l.Stream);

    public static JobResources ToWire(this ResourceRequest r) => new() { MemoryMib = r.MemoryMib, Cpus = r.Cpus, Pids = r.Pids };

    public static JobView ToWire(this JobRecord j) =>
        new(j.Id, j.Name, j.Image, j.Command, j.TimeoutSeconds, j.Priority, j.MaxAttempts, j.CreatedAt, j.UpdatedAt)
        {
            RetryBackoffBase = j.RetryBackoffBaseSeconds,
            RetryBackoffMax = j.RetryBackoffMaxSeconds,
            NonRetryableExitCodes = j.NonRetryableExitCodes,
            Resources = j.Resources?.ToWire(),
            Network = j.Network,
            RunAsRoot = j.RunAsRoot,
            CommandTruncated = j.CommandTruncated ? true : null,
        };

    public static ClaimedExecution ToWire(this ClaimedAttempt c) =>
        new(c.ExecutionId, c.LeaseToken, c.Attempt, c.MaxAttempts, c.LeaseExpiresAt, c.Payload.ToWire());

    public static ExecutionPayload ToWire(this AttemptPayload p) =>
        new(p.JobId, p.TenantId, p.JobName, p.Image, p.Command, p.TimeoutSeconds, p.Priority)
        {
            TraceParent = p.TraceParent,
            ScheduledAt = p.ScheduledAt,
            Resources = p.Resources?.ToWire(),
            Network = p.Network,
            RunAsRoot = p.RunAsRoot,
        };

    public static CreateTenantResponse ToWire(this CreatedTenant t) => new(t.TenantId, t.Name, t.ApiKey);

    public static TenantView ToWire(this TenantRecord t) => new()
    {
        Id = t.Id,
        Name = t.Name,
        RateLimit = t.RateLimit,
        RateLimitBurst = t.RateLimitBurst,
        MaxConcurrentExecutions = t.MaxConcurrentExecutions,
        Weight = t.Weight,
        AllowedRuntimes = t.AllowedRuntimes,
        AllowNetwork = t.AllowNetwork,
        RetentionDays = t.RetentionDays,
        LogMaxBytesPerExecution = t.LogMaxBytesPerExecution,
        LogFollowMax = t.LogFollowMax,
        MaxFleetShare = t.MaxFleetShare,
        Suspended = t.Suspended,
        SuspendedAt = t.SuspendedAt,
        CreatedAt = t.CreatedAt,
        UpdatedAt = t.UpdatedAt,
        Running = t.Running,
        Ready = t.Ready,
    };

    public static CreateApiKeyResponse ToWire(this CreatedApiKey k) =>
        new(k.Id, k.Name, k.Prefix, k.ApiKey, k.CreatedAt) { ExpiresAt = k.ExpiresAt, ParentKeyId = k.ParentKeyId, ReadOnly = k.ReadOnly ? true : null };

    public static ApiKeyView ToWire(this ApiKeyRecord k) =>
        new(k.Id, k.Name, k.Prefix, k.CreatedAt, k.LastUsedAt, k.RevokedAt)
        {
            ExpiresAt = k.ExpiresAt,
            Expired = k.Expired ? true : null,
            ParentKeyId = k.ParentKeyId,
            ReadOnly = k.ReadOnly ? true : null,
        };

    public static CreateWorkerCredentialResponse ToWire(this CreatedWorkerCredential c) =>
        new(c.Id, c.Name, c.Prefix, c.Token, c.TenantIds, c.CreatedAt);

    public static WorkerCredentialView ToWire(this WorkerCredentialRecord c) =>
        new(c.Id, c.Name, c.Prefix, c.TenantIds, c.CreatedAt, c.LastUsedAt, c.RevokedAt);

    public static AuditEntry ToWire(this AuditRecord a) => new(a.Id, a.At, a.Actor, a.Action, a.TenantId, a.Target, a.Details);

    public static AuditPage ToWire(this AuditRecordPage page) => new([.. page.Entries.Select(ToWire)], page.NextBeforeId);

    /// <summary>Each item of a list mapped with <paramref name="map"/>, in order.</summary>
    public static IReadOnlyList<TOut> Map<TIn, TOut>(this IReadOnlyList<TIn> items, Func<TIn, TOut> map)
    {
        var list = new TOut[items.Count];
        for (var i = 0; i < list.Length; i++) list[i] = map(items[i]);
        return list;
    }
}
