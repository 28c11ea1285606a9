using Jobplane.Api;
using Jobplane.Controller.Auth;
using Jobplane.Controller.Http;
using Jobplane.Controller.Observability;
using Jobplane.Controller.Queue;
using Jobplane.Observability;
using Jobplane.Store;

namespace Jobplane.Controller.Endpoints;

/// <summary>
/// The worker API: a worker credential, never a tenant key. Workers never touch the database;
/// these routes are their only way in. Every call about an attempt carries its lease token.
/// </summary>
public static class WorkerEndpoints
{
    /// <summary>
    /// A worker credential restricted to some tenants may touch only their executions: any other id
    /// is 404, exactly like one that does not exist, even with a valid lease token. Unrestricted
    /// credentials pass without a lookup.
    /// </summary>
    private static async ValueTask<object?> ScopedToCredential(EndpointFilterInvocationContext ctx, EndpointFilterDelegate next)
    {
        var http = ctx.HttpContext;
        if (http.Principal().WorkerTenants is { } allowed)
        {
            if (!Guid.TryParse(http.Request.RouteValues["id"] as string, out var executionId)) return ApiResults.NotFound("execution");
            var tenant = await http.RequestServices.GetRequiredService<QueueStore>().TenantOfAsync(executionId, http.RequestAborted);
            if (tenant is not { } t || !allowed.Contains(t)) return ApiResults.NotFound("execution");
        }
        return await next(ctx);
    }

    /// <summary>The last line of a log cut at the operator's cap: what happened, and whose limit it was.</summary>
    internal static string CutMarker(long cap) =>
        $"[jobplane: this execution's log reached the operator's limit of {ByteSizes.Format(cap)} " +
        "(LOG_MAX_BYTES_PER_EXECUTION); the rest of its output was dropped]";

    /// <summary>The last line of a log cut at its tenant's own cap, which the administrator set for that tenant.</summary>
    internal static string TenantCutMarker(long cap) => TenantCutMarkerTemplate.Replace(LogCap.LimitPlaceholder, ByteSizes.Format(cap), StringComparison.Ordinal);

    private const string TenantCutMarkerTemplate =
        $"[jobplane: this execution's log reached its tenant's limit of {LogCap.LimitPlaceholder} " +
        "(the tenant's log_max_bytes_per_execution); the rest of its output was dropped]";

    /// <summary>The cap of every log append: the operator's, or the tenant's own, each with its marker.</summary>
    internal static LogCap LogCapOf(TenantLimitOptions limits) =>
        new(limits.LogMaxBytesPerExecution, CutMarker(limits.LogMaxBytesPerExecution), TenantCutMarkerTemplate);

    public static void MapWorkerEndpoints(this IEndpointRouteBuilder app)
    {
        var worker = app.MapGroup("").RequirePrincipal(PrincipalKind.Worker).WithTags("Worker");

        worker.MapPost(Routes.WorkerDequeue, DequeueExecutions)
            .Doc("dequeueExecutions", "Claim executions", "Long-polls up to wait_seconds (capped by the controller) and claims up to limit executions, each with a lease token.")
            .JsonRequest<DequeueRequest>(Limits.WorkerBodyBytes)
            .Returns<DequeueResponse>();

        worker.MapPost(Routes.WorkerHeartbeats, HeartbeatLeases)
            .Doc("heartbeatLeases", "Extend every lease a worker holds", "Answers which leases are still held, which were lost and which were cancelled.")
            .JsonRequest<WorkerHeartbeatRequest>(Limits.WorkerBodyBytes)
            .Returns<WorkerHeartbeatResponse>();

        worker.MapPut(Routes.WorkerLeaseHeartbeat, HeartbeatExecution)
            .AddEndpointFilter(ScopedToCredential)
            .Doc("heartbeatExecution", "Extend one lease")
            .JsonRequest<HeartbeatRequest>(Limits.SmallBodyBytes)
            .Returns<HeartbeatResponse>()
            .Errors(404, 409);

        worker.MapPost(Routes.WorkerLogs, AppendExecutionLogs)
            .AddEndpointFilter(ScopedToCredential)
            .Doc("appendExecutionLogs", "Append log lines", "{content} or {lines: [{content, stream}]}, with the lease token. 204 while the " +
                "execution's log has room; 200 {log_full: true} once it reached LOG_MAX_BYTES_PER_EXECUTION, or its tenant's log_max_bytes_per_execution when the administrator set one "
                + "(lines past the cap are dropped, a marker line says which limit).")
            .JsonRequest<AppendLogsRequest>(Limits.LogBodyBytes)
            .Returns<AppendLogsResponse>()
            .Produces(204)
            .Errors(404, 409);

        worker.MapPut(Routes.WorkerResult, ReportExecutionResult)
            .AddEndpointFilter(ScopedToCredential)
            .Doc("reportExecutionResult", "Report an attempt's outcome")
            .JsonRequest<ResultRequest>(Limits.ResultBodyBytes)
            .Returns<ResultResponse>()
            .Errors(404, 409);

        worker.MapPost(Routes.WorkerResults, ReportExecutionResults)
            .Doc("reportExecutionResults", "Report many attempts' outcomes",
                "Written in one transaction. Each report is fenced by its own lease token and answered in order: accepted (with the new status), lease_lost, not_found, or refused (nothing written, the lease still holds).")
            .JsonRequest<ResultBatchRequest>(Limits.ResultBatchBodyBytes)
            .Returns<ResultBatchResponse>();

        worker.MapPost(Routes.WorkerResume, ResumeExecution)
            .AddEndpointFilter(ScopedToCredential)
            .Doc("resumeExecution", "Take over a running attempt after a worker restart",
                "For a worker whose attempts outlive its process (kubernetes): the attempt as its claim gave it, if worker_id still holds the lease by lease_token; " +
                "logged_stdout and logged_stderr are how many log lines of each stream were stored for the attempt (the worker skips as many of the job's output), running_seconds how long it has run. Changes nothing.")
            .JsonRequest<ResumeRequest>(Limits.SmallBodyBytes)
            .Returns<ResumeResponse>()
            .Errors(404, 409);

        worker.MapPost(Routes.WorkerRelease, ReleaseExecution)
            .AddEndpointFilter(ScopedToCredential)
            .Doc("releaseExecution", "Hand a lease back unfinished", "The execution is queued again without charging an attempt.")
            .JsonRequest<ReleaseRequest>(Limits.SmallBodyBytes)
            .Produces(204)
            .Errors(404, 409);
    }

    private static async Task<IResult> DequeueExecutions(HttpContext http, LongPollDequeue dequeue, ControllerOptions options, WorkerRegistry registry)
    {
        var body = await JsonBody.ReadAsync(http.Request, JobplaneJsonContext.Default.DequeueRequest, Limits.WorkerBodyBytes);
        if (body.Error is not null) return body.Error;
        var r = body.Value!;
        var problem = Validate.Range(r.Limit, "limit", 1, Limits.MaxDequeueBatch)
            ?? (r.WorkerId is null ? null : Validate.Name(r.WorkerId, "worker_id"));
        if (r.WaitSeconds is { } w && (w < 0 || double.IsNaN(w))) problem ??= "wait_seconds must not be negative";
        if (r.TenantIds is { Count: > 1000 }) problem ??= "tenant_ids must have at most 1000 entries";
        if (r.Runtime is { } rt && !Runtimes.IsKnown(rt)) problem ??= $"runtime must be one of {string.Join(", ", Runtimes.Known)} (got '{rt}')";
        WorkerGrants grants = WorkerGrants.Any;
        problem ??= WorkerRegistry.ToGrants(r.Runtime, r.Capabilities, out grants);
        if (problem is not null) return ApiResults.BadRequest(problem);

        var wait = TimeSpan.FromSeconds(Math.Min(r.WaitSeconds ?? 0, options.MaxDequeueWait.TotalSeconds));
        var workerId = r.WorkerId ?? $"anonymous@{http.Connection.RemoteIpAddress}";
        Guid[]? tenants = r.TenantIds is { Count: > 0 } t ? [.. t] : null;
        // A credential restricted to some tenants claims only theirs, whatever the worker asks for.
        if (http.Principal().WorkerTenants is { } allowed) tenants = tenants is null ? allowed : [.. tenants.Intersect(allowed)];
        // Nothing it may claim: it long-polls like any idle worker (no tenant has the empty id).
        if (tenants is { Length: 0 }) tenants = [Guid.Empty];
        // What it can run, for telling tenants what their waiting executions wait for (throttled).
        await registry.SeenAsync(workerId, r.Runtime, grants, tenants, WorkerRegistry.VersionOf(http.Request.Headers.UserAgent.ToString()), http.RequestAborted);

        var claimed = await dequeue.ClaimAsync(new DequeueClaim(r.Limit, workerId, tenants, r.Runtime, grants, wait), http.RequestAborted);
        return claimed is null ? Results.Empty
            : Results.Json(new DequeueResponse(claimed.Map(WireMapping.ToWire)) { LeaseSeconds = options.LeaseDuration.TotalSeconds }, JobplaneJsonContext.Default.DequeueResponse);
    }

    private static async Task<IResult> HeartbeatLeases(HttpContext http, QueueStore queue, ControllerOptions options, WorkerRegistry registry, CancellationToken ct)
    {
        var body = await JsonBody.ReadAsync(http.Request, JobplaneJsonContext.Default.WorkerHeartbeatRequest, Limits.WorkerBodyBytes);
        if (body.Error is not null) return body.Error;
        if (body.Value!.Leases is not { } leases) return ApiResults.BadRequest("leases is required: a list of {execution_id, lease_token}");
        if (leases.Count > 10_000) return ApiResults.BadRequest("leases must have at most 10000 entries");
        if (leases.Any(l => l is null)) return ApiResults.BadRequest("leases must not contain null entries");
        // A credential restricted to some tenants holds no lease of another tenant's: reported lost.
        var held = await queue.HeartbeatAsync(leases.Map(WireMapping.ToStore), options.LeaseDuration, ct, http.Principal().WorkerTenants);
        var heldIds = held.Select(h => h.Id).ToHashSet();
        if (body.Value.WorkerId is { Length: > 0 and <= 100 } heartbeatWorker && heldIds.Count > 0)
            await registry.StillConnectedAsync(heartbeatWorker, heldIds, ct);
        var lost = leases.Where(l => !heldIds.Contains(l.ExecutionId)).Select(l => l.ExecutionId).Distinct().ToList();
        return Results.Json(new WorkerHeartbeatResponse([.. heldIds], lost)
        {
            Cancelled = [.. held.Where(h => h.CancelRequested).Select(h => h.Id)],
            LeaseSeconds = options.LeaseDuration.TotalSeconds,
        }, JobplaneJsonContext.Default.WorkerHeartbeatResponse);
    }

    private static async Task<IResult> HeartbeatExecution(string id, HttpContext http, QueueStore queue, ControllerOptions options, CancellationToken ct)
    {
        if (!Guid.TryParse(id, out var executionId)) return ApiResults.NotFound("execution");
        var body = await JsonBody.ReadAsync(http.Request, JobplaneJsonContext.Default.HeartbeatRequest, Limits.SmallBodyBytes);
        if (body.Error is not null) return body.Error;
        if (body.Value!.LeaseToken is not { } token) return ApiResults.BadRequest("lease_token is required");
        var held = await queue.HeartbeatAsync([new AttemptLease(executionId, token)], options.LeaseDuration, ct);
        if (held.Count == 1)
        {
            // A cancel request is passed on in the status: the worker should stop the job.
            return Results.Json(new HeartbeatResponse(held[0].CancelRequested ? "CANCEL_REQUESTED" : ExecutionStatus.Running, held[0].ExpiresAt),
                JobplaneJsonContext.Default.HeartbeatResponse);
        }
        return await queue.WhyNotHeldAsync(executionId, ct) == LeaseCheck.NotFound
            ? ApiResults.NotFound("execution")
            : ApiResults.LeaseLost(executionId);
    }

    private static async Task<IResult> AppendExecutionLogs(string id, HttpContext http, QueueStore queue, ControllerMetrics metrics, ControllerOptions options, CancellationToken ct)
    {
        if (!Guid.TryParse(id, out var executionId)) return ApiResults.NotFound("execution");
        var body = await JsonBody.ReadAsync(http.Request, JobplaneJsonContext.Default.AppendLogsRequest, Limits.LogBodyBytes);
        if (body.Error is not null) return body.Error;
        var r = body.Value!;
        if (r.LeaseToken is not { } token) return ApiResults.BadRequest("lease_token is required");
        var lines = new List<NewLogLine>();
        if (r.Content is not null) lines.Add(new NewLogLine(r.Content, r.Stream));
        if (r.Lines is not null)
        {
            if (r.Lines.Count > Limits.MaxLogLinesPerRequest)
                return ApiResults.BadRequest($"lines must have at most {Limits.MaxLogLinesPerRequest} entries (got {r.Lines.Count})");
            foreach (var line in r.Lines)
            {
                if (line?.Content is null) return ApiResults.BadRequest("every entry of lines needs a content string");
                lines.Add(line.ToStore());
            }
        }
        if (lines.Any(l => l.Stream is not (null or "stdout" or "stderr")))
            return ApiResults.BadRequest("stream must be stdout or stderr");
        // A job printing binary output must not break its own logs: NUL and lone surrogates
        // (which PostgreSQL cannot store) become U+FFFD.
        for (var i = 0; i < lines.Count; i++)
        {
            if (!StorableText.IsStorable(lines[i].Content))
                lines[i] = lines[i] with { Content = StorableText.Clean(lines[i].Content) };
        }
        // The cap is the operator's, or the tenant's own (applied by the append itself, under the
        // execution's row lock): the job is not failed for it, and the worker's call still
        // succeeds; the answer tells it the log is full so it can stop shipping.
        var append = await queue.AppendLogsAsync(executionId, token, lines, LogCapOf(options.TenantLimits), ct);
        if (append.Check == LeaseCheck.Accepted) metrics.LogBytes(append.StoredBytes);
        return append.Check switch
        {
            LeaseCheck.Accepted when append.LogFull =>
                Results.Json(new AppendLogsResponse(LogFull: true), JobplaneJsonContext.Default.AppendLogsResponse),
            LeaseCheck.Accepted => Results.NoContent(),
            LeaseCheck.NotFound => ApiResults.NotFound("execution"),
            _ => ApiResults.LeaseLost(executionId),
        };
    }

    private static async Task<IResult> ReportExecutionResult(string id, HttpContext http, QueueStore queue, RetryBackoff backoff, ExecutionTelemetry telemetry, CancellationToken ct)
    {
        if (!Guid.TryParse(id, out var executionId)) return ApiResults.NotFound("execution");
        var body = await JsonBody.ReadAsync(http.Request, JobplaneJsonContext.Default.ResultRequest, Limits.ResultBodyBytes);
        if (body.Error is not null) return body.Error;
        var r = body.Value!;
        if (Reports.Check(r) is { } problem) return ApiResults.BadRequest(problem);
        if (Reports.ResultTooLarge(r) is { } tooLarge) return ApiResults.Error(413, ErrorCodes.PayloadTooLarge, tooLarge);
        var outcome = await queue.CompleteAsync(executionId, r.LeaseToken!.Value, Reports.ToAttemptResult(r), backoff.Delay, ct);
        if (outcome.Check == LeaseCheck.Accepted) telemetry.Completed(executionId, outcome.Status!, r);
        return outcome.Check switch
        {
            LeaseCheck.Accepted => Results.Json(new ResultResponse(outcome.Status!), JobplaneJsonContext.Default.ResultResponse),
            LeaseCheck.NotFound => ApiResults.NotFound("execution"),
            // Nothing was written and the lease still holds: the worker can report again without the result.
            LeaseCheck.Refused => ApiResults.BadRequest(outcome.Refused!),
            _ => ApiResults.LeaseLost(executionId),
        };
    }

    private static async Task<IResult> ReportExecutionResults(HttpContext http, QueueStore queue, RetryBackoff backoff, ExecutionTelemetry telemetry, CancellationToken ct)
    {
        var body = await JsonBody.ReadAsync(http.Request, JobplaneJsonContext.Default.ResultBatchRequest, Limits.ResultBatchBodyBytes);
        if (body.Error is not null) return body.Error;
        if (body.Value!.Results is not { } reports) return ApiResults.BadRequest("results is required: a list of {execution_id, lease_token, exit_code or error, ...}");
        if (reports.Count > Limits.MaxResultsPerBatch)
            return ApiResults.BadRequest($"results must have at most {Limits.MaxResultsPerBatch} entries (got {reports.Count})");
        // A malformed report is the worker's bug: the whole batch is refused, naming it, and nothing is written.
        var seen = new HashSet<Guid>(reports.Count);
        for (var i = 0; i < reports.Count; i++)
        {
            var problem = reports[i] is not { } r ? "must not be null"
                : r.ExecutionId is not { } eid ? "execution_id is required"
                : !seen.Add(eid) ? $"execution_id {eid} appears more than once"
                : Reports.Check(r);
            if (problem is not null) return ApiResults.BadRequest($"results[{i}]: {problem}");
        }

        // A result too large is refused on its own: the worker reports that attempt again without it.
        var answers = new ResultAnswer[reports.Count];
        var accepted = new List<int>(reports.Count);
        for (var i = 0; i < reports.Count; i++)
        {
            if (Reports.ResultTooLarge(reports[i]) is { } tooLarge)
                answers[i] = new ResultAnswer(reports[i].ExecutionId!.Value, ResultAnswers.Refused) { Error = tooLarge, Code = ErrorCodes.PayloadTooLarge };
            else accepted.Add(i);
        }
        var outcomes = await queue.CompleteManyAsync(
            [.. accepted.Select(i => new Completion(reports[i].ExecutionId!.Value, reports[i].LeaseToken!.Value, Reports.ToAttemptResult(reports[i])))],
            backoff.Delay, ct, http.Principal().WorkerTenants);
        for (var k = 0; k < accepted.Count; k++)
        {
            var r = reports[accepted[k]];
            var o = outcomes[k];
            var executionId = r.ExecutionId!.Value;
            if (o.Check == LeaseCheck.Accepted) telemetry.Completed(executionId, o.Status!, r, r.TraceParent);
            answers[accepted[k]] = o.Check switch
            {
                LeaseCheck.Accepted => new ResultAnswer(executionId, ResultAnswers.Accepted) { Status = o.Status },
                LeaseCheck.NotFound => new ResultAnswer(executionId, ResultAnswers.NotFound),
                LeaseCheck.Refused => new ResultAnswer(executionId, ResultAnswers.Refused) { Error = o.Refused, Code = ErrorCodes.InvalidArgument },
                _ => new ResultAnswer(executionId, ResultAnswers.LeaseLost),
            };
        }
        return Results.Json(new ResultBatchResponse(answers), JobplaneJsonContext.Default.ResultBatchResponse);
    }

    private static async Task<IResult> ResumeExecution(string id, HttpContext http, QueueStore queue, CancellationToken ct)
    {
        if (!Guid.TryParse(id, out var executionId)) return ApiResults.NotFound("execution");
        var body = await JsonBody.ReadAsync(http.Request, JobplaneJsonContext.Default.ResumeRequest, Limits.SmallBodyBytes);
        if (body.Error is not null) return body.Error;
        if (body.Value!.LeaseToken is not { } token) return ApiResults.BadRequest("lease_token is required");
        if (body.Value.WorkerId is not { } workerId) return ApiResults.BadRequest("worker_id is required");
        if (Validate.Name(workerId, "worker_id") is { } problem) return ApiResults.BadRequest(problem);
        var resumed = await queue.ResumeAsync(executionId, token, workerId, ct, http.Principal().WorkerTenants);
        if (resumed is not null)
            return Results.Json(new ResumeResponse(resumed.Attempt.ToWire(), resumed.LoggedStdout, resumed.LoggedStderr, resumed.RunningSeconds), JobplaneJsonContext.Default.ResumeResponse);
        return await queue.WhyLeaseNotHeldAsync(executionId, ct) == LeaseCheck.NotFound
            ? ApiResults.NotFound("execution")
            : ApiResults.LeaseLost(executionId);
    }

    private static async Task<IResult> ReleaseExecution(string id, HttpContext http, QueueStore queue, CancellationToken ct)
    {
        if (!Guid.TryParse(id, out var executionId)) return ApiResults.NotFound("execution");
        var body = await JsonBody.ReadAsync(http.Request, JobplaneJsonContext.Default.ReleaseRequest, Limits.SmallBodyBytes);
        if (body.Error is not null) return body.Error;
        if (body.Value!.LeaseToken is not { } token) return ApiResults.BadRequest("lease_token is required");
        var reason = body.Value.Reason is { Length: > 0 } why ? StorableText.Clean(why, 1000) : "released by the worker";
        return await queue.ReleaseAsync(executionId, token, reason, ct) switch
        {
            LeaseCheck.Accepted => Results.NoContent(),
            LeaseCheck.NotFound => ApiResults.NotFound("execution"),
            _ => ApiResults.LeaseLost(executionId),
        };
    }
}
