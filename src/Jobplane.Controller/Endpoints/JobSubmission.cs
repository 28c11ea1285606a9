using System.Diagnostics;
using Jobplane.Controller.Http;
using Jobplane.Controller.Images;
using Jobplane.Controller.Observability;
using Jobplane.Observability;
using Jobplane.Store;

namespace Jobplane.Controller.Endpoints;

/// <summary>
/// What a submission came to: the executions it created, or why there are none (the job is not the
/// tenant's, or its image's registry is no longer allowed).
/// </summary>
public sealed record Submission
{
    public IReadOnlyList<Guid> ExecutionIds { get; init; } = [];
    /// <summary>PENDING (due now) or SCHEDULED, the same for every execution of one submission.</summary>
    public string? Status { get; init; }
    /// <summary>An Idempotency-Key repeated: the execution the first request created.</summary>
    public bool Replayed { get; init; }
    /// <summary>Nothing created: the job is not the tenant's (or the key to verify is no longer live).</summary>
    public bool NotFound { get; init; }
    /// <summary>Nothing created: the 403 image_not_allowed answer, and its message.</summary>
    public IResult? Refused { get; init; }
    public string? RefusedMessage { get; init; }
}

/// <summary>
/// Submitting runs of a job, the one way every caller does it: POST /jobs/{id}/run and /runs and the
/// dashboard's "Run now" form. The same checks of the options, the operator's registry check first,
/// one submit span whose traceparent the executions carry (the worker continues that trace), one
/// statement that creates them (the ready_queue insert wakes waiting workers), and the submission
/// counter. Authentication, rate limits and a suspended tenant are the caller's to refuse before.
/// Single runs are group-committed with the other single runs in flight (<see cref="RunGroupCommitter"/>).
/// </summary>
public sealed class JobSubmission(ExecutionStore store, RunGroupCommitter groups, ImageAdmission images, ControllerMetrics metrics)
{
    /// <summary>What is wrong with a single run's options (the problem text the API answers with 400); null when nothing is.</summary>
    public static string? RunProblem(int? timeout) => Validate.Range(timeout, "timeout", 1, Limits.MaxTimeoutSeconds);

    /// <summary>What is wrong with a batch's count and options; null when nothing is.</summary>
    public static string? RunsProblem(int? count, int? timeout) =>
        (count is null ? "count is required" : null)
        ?? Validate.Range(count, "count", 1, Limits.MaxBatchRun)
        ?? RunProblem(timeout);

    /// <summary>
    /// One execution, as POST /jobs/{id}/run makes it: with an idempotency key, a repeat answers the
    /// first execution (Replayed); with <paramref name="verifyKeyId"/>, the statement itself requires
    /// that key live and the tenant not suspended, and creates nothing (NotFound) otherwise.
    /// A key used for another job throws <see cref="StoreConflictException"/>. Its statement shares a
    /// transaction with the other single runs in flight, and it returns once that has committed.
    /// </summary>
    public async Task<Submission> RunOnceAsync(Guid tenantId, Guid jobId, RunOptions options, string? idempotencyKey, Guid? verifyKeyId,
        CancellationToken ct)
    {
        // Before the group and per request: nothing is read unless IMAGE_REGISTRIES is set, and a job's
        // image is not cached, since another replica (with another list) may change it at any time.
        var check = await images.CheckAsync(c => store.JobImageAsync(tenantId, jobId, c, verifyKeyId), ct);
        if (check.Refused is not null) return new Submission { Refused = check.Refused, RefusedMessage = check.Message };
        using var submit = ControllerTracing.StartSubmit(jobId);
        var run = await groups.RunAsync(new RunRequest(tenantId, jobId, options with { TraceParent = TraceParent.ForExecutions(submit ?? Activity.Current) },
            idempotencyKey, verifyKeyId), ct);
        if (run is null) return new Submission { NotFound = true };
        submit?.SetTag("jobplane.execution.id", run.ExecutionId);
        if (!run.Replayed) metrics.Submitted(run.Status);
        return new Submission { ExecutionIds = [run.ExecutionId], Status = run.Status, Replayed = run.Replayed };
    }

    /// <summary><paramref name="count"/> executions in one statement and one commit, as POST /jobs/{id}/runs makes them.</summary>
    public async Task<Submission> RunManyAsync(Guid tenantId, Guid jobId, int count, RunOptions options, CancellationToken ct)
    {
        var check = await images.CheckAsync(c => store.JobImageAsync(tenantId, jobId, c), ct);
        if (check.Refused is not null) return new Submission { Refused = check.Refused, RefusedMessage = check.Message };
        using var submit = ControllerTracing.StartSubmit(jobId, count);
        var runs = await store.RunManyAsync(tenantId, jobId, count, options with { TraceParent = TraceParent.ForExecutions(submit ?? Activity.Current) }, ct);
        if (runs is null) return new Submission { NotFound = true };
        metrics.Submitted(runs.Status, runs.ExecutionIds.Count);
        return new Submission { ExecutionIds = runs.ExecutionIds, Status = runs.Status };
    }
}
