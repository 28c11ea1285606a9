using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Jobplane.Api;
using Jobplane.Controller.Auth;
using Jobplane.Controller.Http;
using Jobplane.Controller.Images;
using Jobplane.Controller.Logs;
using Jobplane.Observability;
using Jobplane.Store;
using Microsoft.OpenApi;

namespace Jobplane.Controller.Endpoints;

/// <summary>Reading executions, their logs, and the dead-letter queue: tenant API key.</summary>
public static class ExecutionEndpoints
{
    /// <summary>Dead letters one bulk retry re-runs at most (the oldest first); repeating it takes the rest.</summary>
    public const int MaxBulkRetry = 10_000;

    public static void MapExecutionEndpoints(this IEndpointRouteBuilder app)
    {
        var executions = app.MapGroup("").RequirePrincipal(PrincipalKind.Tenant).WithTags("Executions");

        executions.MapGet(Routes.Executions, ListExecutions)
            .Doc("listExecutions", "List executions", "Newest first. Rows leave out result (GET /executions/{id} answers it); "
                + "pass next_cursor as cursor for the next page, which is absent on the last page.")
            .Paged(50, Limits.MaxPageSize, cursor: true)
            .Query("status", JsonSchemaType.String, "only executions with this status")
            .Query("job_id", JsonSchemaType.String, "only this job's executions")
            .Returns<ExecutionList>();

        executions.MapGet(Routes.DeadLetters, ListDeadLetters)
            .Doc("listDeadLetters", "List dead letters", "Executions that failed for good, newest first; [] when there are none. The answer is a bare array: "
                + "when more entries follow, the X-Next-Cursor header holds the cursor for the next page and a Link header (rel=\"next\") its address.")
            .Paged(50, Limits.MaxPageSize, cursor: true)
            .Returns<IReadOnlyList<DlqEntry>>()
            .Headers(Wire.NextCursorHeader, "the cursor of the next page; absent on the last page")
            .Headers("Link", "<...>; rel=\"next\": the next page's address; absent on the last page");

        executions.MapPost(Routes.DeadLetterRetry, RetryDeadLetter).RefusedWhenSuspended()
            .Doc("retryDeadLetter", "Retry a dead letter", "By dead-letter id or by the failed execution's id; creates a new execution. "
                + "403 image_not_allowed when the job's image comes from a registry the operator's IMAGE_REGISTRIES no longer lists; nothing is queued.")
            .Returns<DlqRetryResponse>(201)
            .Errors(403, 404, 409);

        executions.MapPost(Routes.DeadLettersRetry, RetryDeadLetters).RefusedWhenSuspended()
            .Doc("retryDeadLetters", "Retry every dead letter", "Optionally only one job's. 403 image_not_allowed, and nothing retried, when a job among them has an image "
                + "from a registry the operator's IMAGE_REGISTRIES no longer lists (retry the others with job_id).")
            .JsonRequest<DlqBulkRequest>(Limits.SmallBodyBytes, optional: true)
            .Returns<DlqBulkRetryResponse>()
            .Errors(403);

        executions.MapPost(Routes.DeadLettersPurge, PurgeDeadLetters)
            .Doc("purgeDeadLetters", "Purge dead letters", "Optionally only one job's.")
            .JsonRequest<DlqBulkRequest>(Limits.SmallBodyBytes, optional: true)
            .Returns<DlqPurgeResponse>();

        executions.MapPost(Routes.ExecutionCancel, CancelExecution)
            .Doc("cancelExecution", "Cancel an execution", "A running one keeps RUNNING until its worker has stopped it; 409 when it already finished.")
            .Returns<CancelResponse>()
            .Errors(404, 409);

        executions.MapGet(Routes.Execution, GetExecution)
            .Doc("getExecution", "Read an execution", "A PENDING execution that no recently connected worker could run says what it waits for in waiting_for.")
            .Returns<ExecutionView>()
            .Errors(404);

        executions.MapGet(Routes.ExecutionAttempts, ListExecutionAttempts)
            .Doc("listExecutionAttempts", "List an execution's attempts")
            .Returns<IReadOnlyList<AttemptView>>()
            .Errors(404);

        executions.MapGet(Routes.ExecutionLogs, GetExecutionLogs)
            .Doc("getExecutionLogs", "Read an execution's logs", "A page holds at most limit lines and at most LOG_PAGE_MAX_BYTES (default 1 MiB) of line content, "
                + "but always at least one line: page on with after_id set to the last line's id until a page is empty. "
                + "With follow=true, a text/event-stream of log lines that ends with an 'end' event once the execution has finished, "
                + "or with a 'reconnect' event (resume with Last-Event-ID) once the stream reached LOG_FOLLOW_MAX_DURATION; "
                + "429 when the tenant already holds LOG_FOLLOW_MAX_PER_TENANT streams on this replica (or its own log_follow_max, when the administrator set one).")
            .Query("after_id", JsonSchemaType.Integer, "only lines after this id")
            .Query("limit", JsonSchemaType.Integer, $"lines per page, 1..{Limits.MaxLogPageSize} (default 1000); a page also stops at the byte budget")
            .Query("follow", JsonSchemaType.Boolean, "stream Server-Sent Events until the execution ends")
            .Returns<LogPage>()
            .StreamsEvents("With follow=true: Server-Sent Events. Each log line is an event with no name, id = the line's id, "
                + "data = the LogEntry as JSON. Event 'end' (data: execution_id, status) once the execution finished and every line was sent; "
                + "event 'reconnect' (data: execution_id, last_event_id, reason) when the stream reached LOG_FOLLOW_MAX_DURATION: reconnect with Last-Event-ID.")
            .Errors(400, 404, 429);
    }

    private static async Task<IResult> ListExecutions(HttpContext http, ExecutionStore store, CancellationToken ct)
    {
        if (!Validate.TryListPage(http.Request, 50, Limits.MaxPageSize, PageCursor.Lists.Executions, out var request, out var error)) return error!;
        string? status = null;
        var statusText = http.Request.Query["status"].ToString();
        if (statusText.Length > 0 && (status = ExecutionStatus.Parse(statusText)) is null)
            return ApiResults.BadRequest($"status must be one of {string.Join(", ", ExecutionStatus.All)} (got '{statusText}')");
        Guid? jobId = null;
        var jobText = http.Request.Query["job_id"].ToString();
        if (jobText.Length > 0)
        {
            if (!Guid.TryParse(jobText, out var j)) return ApiResults.BadRequest($"job_id must be a UUID (got '{jobText}')");
            jobId = j;
        }
        var page = await store.ListPageAsync(http.TenantId(), status, jobId, request, ct);
        var next = page.More ? PageCursor.Encode(PageCursor.Lists.Executions, new PagePosition(page.Items[^1].CreatedAt, page.Items[^1].Id)) : null;
        return Results.Json(new ExecutionList(page.Items.Map(WireMapping.ToWire), request.Limit, request.Offset) { NextCursor = next },
            JobplaneJsonContext.Default.ExecutionList);
    }

    private static async Task<IResult> ListDeadLetters(HttpContext http, ExecutionStore store, CancellationToken ct)
    {
        if (!Validate.TryListPage(http.Request, 50, Limits.MaxPageSize, PageCursor.Lists.DeadLetters, out var request, out var error)) return error!;
        var page = await store.ListDeadLettersPageAsync(http.TenantId(), request, ct);
        if (page.More)
        {
            // The answer stays the bare array the contract gives, so the next page is told in headers.
            var next = PageCursor.Encode(PageCursor.Lists.DeadLetters, new PagePosition(page.Items[^1].FailedAt, page.Items[^1].Id));
            http.Response.Headers[Wire.NextCursorHeader] = next;
            http.Response.Headers.Link = $"<{http.Request.PathBase}{http.Request.Path}?limit={request.Limit}&cursor={next}>; rel=\"next\"";
        }
        return Results.Json(page.Items.Map(WireMapping.ToWire), JobplaneJsonContext.Default.IReadOnlyListDlqEntry);
    }

    private static async Task<IResult> RetryDeadLetter(string id, HttpContext http, ExecutionStore store, ControllerMetrics metrics, ImageAdmission images, CancellationToken ct)
    {
        if (!Guid.TryParse(id, out var dlqId)) return ApiResults.NotFound("dead letter");
        var check = await images.CheckAsync(c => store.DeadLetterImageAsync(http.TenantId(), dlqId, c), ct);
        if (check.Refused is not null) return check.Refused;
        try
        {
            var newId = await store.RetryDeadLetterAsync(http.TenantId(), dlqId, ct, TraceParent.ForExecutions(Activity.Current));
            if (newId is null) return ApiResults.NotFound("dead letter");
            metrics.Submitted(ExecutionStatus.Pending);
            return Results.Json(new DlqRetryResponse(newId.Value), JobplaneJsonContext.Default.DlqRetryResponse, statusCode: 201);
        }
        catch (StoreConflictException e)
        {
            return ApiResults.Conflict(e.Message);
        }
    }

    private static async Task<IResult> RetryDeadLetters(HttpContext http, ExecutionStore store, ControllerMetrics metrics, ImageAdmission images, CancellationToken ct)
    {
        var body = await JsonBody.ReadAsync(http.Request, JobplaneJsonContext.Default.DlqBulkRequest, Limits.SmallBodyBytes, optional: true);
        if (body.Error is not null) return body.Error;
        var jobId = body.Value?.JobId;
        var check = await images.CheckAsync(c => store.DeadLetterImagesAsync(http.TenantId(), jobId, c), ct);
        if (check.Refused is not null) return check.Refused;
        var result = await store.RetryDeadLettersAsync(http.TenantId(), jobId, MaxBulkRetry, ct, TraceParent.ForExecutions(Activity.Current), check.AllowedJobs);
        metrics.Submitted(ExecutionStatus.Pending, result.Retried);
        return Results.Json(result.ToWire(), JobplaneJsonContext.Default.DlqBulkRetryResponse);
    }

    private static async Task<IResult> PurgeDeadLetters(HttpContext http, ExecutionStore store, CancellationToken ct)
    {
        var body = await JsonBody.ReadAsync(http.Request, JobplaneJsonContext.Default.DlqBulkRequest, Limits.SmallBodyBytes, optional: true);
        if (body.Error is not null) return body.Error;
        var purged = await store.PurgeDeadLettersAsync(http.TenantId(), body.Value?.JobId, ct);
        return Results.Json(new DlqPurgeResponse(purged), JobplaneJsonContext.Default.DlqPurgeResponse);
    }

    private static async Task<IResult> CancelExecution(string id, HttpContext http, ExecutionStore store, CancellationToken ct)
    {
        if (!Guid.TryParse(id, out var executionId)) return ApiResults.NotFound("execution");
        try
        {
            var result = await store.CancelAsync(http.TenantId(), executionId, ct);
            return result is null ? ApiResults.NotFound("execution") : Results.Json(result.ToWire(), JobplaneJsonContext.Default.CancelResponse);
        }
        catch (StoreConflictException e)
        {
            return ApiResults.Conflict(e.Message);
        }
    }

    private static async Task<IResult> GetExecution(string id, HttpContext http, ExecutionStore store, WorkerStore workers, WorkerPseudonyms pseudonyms, CancellationToken ct)
    {
        if (!Guid.TryParse(id, out var executionId)) return ApiResults.NotFound("execution");
        var execution = await store.GetAsync(http.TenantId(), executionId, ct);
        if (execution is null) return ApiResults.NotFound("execution");
        var view = execution.ToWire();
        view = view with { Attempts = Pseudonymous(view.Attempts, http.TenantId(), pseudonyms) };
        // Only a waiting execution costs the extra lookup.
        if (view.Status == ExecutionStatus.Pending)
            view = view with { WaitingFor = await workers.WaitingForAsync(http.TenantId(), executionId, ct) };
        return Results.Json(view, JobplaneJsonContext.Default.ExecutionView);
    }

    private static async Task<IResult> ListExecutionAttempts(string id, HttpContext http, ExecutionStore store, WorkerPseudonyms pseudonyms, CancellationToken ct)
    {
        if (!Guid.TryParse(id, out var executionId)) return ApiResults.NotFound("execution");
        var execution = await store.GetAsync(http.TenantId(), executionId, ct);
        return execution is null ? ApiResults.NotFound("execution")
            : Results.Json(Pseudonymous(execution.Attempts?.Map(WireMapping.ToWire), http.TenantId(), pseudonyms) ?? [], JobplaneJsonContext.Default.IReadOnlyListAttemptView);
    }

    private static async Task<IResult> GetExecutionLogs(string id, HttpContext http, ExecutionStore store, ControllerOptions options, LogFollowers followers, CancellationToken ct)
    {
        if (!Guid.TryParse(id, out var executionId)) return ApiResults.NotFound("execution");
        var q = http.Request.Query;
        long afterId = 0;
        var afterText = q["after_id"].ToString();
        if (afterText.Length > 0 && (!long.TryParse(afterText, System.Globalization.NumberStyles.Integer, System.Globalization.CultureInfo.InvariantCulture, out afterId) || afterId < 0))
            return ApiResults.BadRequest($"after_id must be a non-negative integer (got '{afterText}')");
        var limit = 1000;
        var limitText = q["limit"].ToString();
        if (limitText.Length > 0 && (!int.TryParse(limitText, System.Globalization.NumberStyles.Integer, System.Globalization.CultureInfo.InvariantCulture, out limit) || limit < 1 || limit > Limits.MaxLogPageSize))
            return ApiResults.BadRequest($"limit must be an integer between 1 and {Limits.MaxLogPageSize} (got '{limitText}')");
        var followText = q["follow"].ToString();
        var follow = followText is "true" or "1";
        if (followText.Length > 0 && !follow && followText is not ("false" or "0"))
            return ApiResults.BadRequest($"follow must be true or false (got '{followText}')");

        var status = await store.GetStatusAsync(http.TenantId(), executionId, ct);
        if (status is null) return ApiResults.NotFound("execution");
        if (!follow)
        {
            var page = await store.ReadLogPageAsync(executionId, afterId, limit, options.LogPageMaxBytes, ct);
            return Results.Json(new LogPage(page.Map(WireMapping.ToWire)), JobplaneJsonContext.Default.LogPage);
        }
        if (http.Request.Headers["Last-Event-ID"].ToString() is { Length: > 0 } lastId && long.TryParse(lastId, System.Globalization.NumberStyles.Integer, System.Globalization.CultureInfo.InvariantCulture, out var resumed))
            afterId = Math.Max(afterId, resumed);
        // The tenant's own cap came with its key (the authenticator reads the tenant's row anyway).
        var ownMax = http.Principal().Key?.LogFollowMax;
        using var slot = followers.TryOpen(http.TenantId(), ownMax);
        if (slot is null)
        {
            return ApiResults.Error(429, ErrorCodes.TooManyLogStreams,
                $"this tenant already follows {followers.OpenStreams(http.TenantId())} log streams on this controller, " +
                $"the most allowed ({(ownMax is null ? "LOG_FOLLOW_MAX_PER_TENANT" : "the tenant's log_follow_max")}); close one or read pages without follow");
        }
        var limits = options.TenantLimits;
        await LogStream.FollowAsync(http.Response, store, followers, http.RequestServices.GetRequiredService<TimeProvider>(), limits,
            http.TenantId(), executionId, afterId, new ApiLogFormat(executionId, limits.LogFollowMaxDuration), ct);
        return Results.Empty;
    }

    /// <summary>A tenant sees which of its attempts ran on the same worker, never the worker's id (its host name).</summary>
    private static IReadOnlyList<AttemptView>? Pseudonymous(IReadOnlyList<AttemptView>? attempts, Guid tenantId, WorkerPseudonyms pseudonyms) =>
        attempts?.Select(a => a with { WorkerId = pseudonyms.For(tenantId, a.WorkerId) }).ToList();

    /// <summary>
    /// The API's log stream: each line an unnamed event whose data is the line as GET /logs gives it,
    /// 'end' with the final status, and after LOG_FOLLOW_MAX_DURATION a 'reconnect' event naming the
    /// last id sent.
    /// </summary>
    private sealed class ApiLogFormat(Guid executionId, TimeSpan maxDuration) : LogStreamFormat
    {
        public override void Line(StringBuilder events, LogRecord line) =>
            events.Append("id: ").Append(line.Id.ToString(CultureInfo.InvariantCulture))
                .Append("\ndata: ").Append(JsonSerializer.Serialize(line.ToWire(), JobplaneJsonContext.Default.LogEntry)).Append("\n\n");

        public override string End(string status) =>
            $"event: end\ndata: {JsonSerializer.Serialize(new LogStreamEnd(executionId, status), JobplaneJsonContext.Default.LogStreamEnd)}\n\n";

        public override string TimeUp(long lastId)
        {
            var reconnect = JsonSerializer.Serialize(new LogStreamReconnect(executionId, lastId,
                $"the stream reached the controller's limit of {Durations.Format(maxDuration)} (LOG_FOLLOW_MAX_DURATION); " +
                "reconnect with Last-Event-ID to go on"), JobplaneJsonContext.Default.LogStreamReconnect);
            return $"event: reconnect\ndata: {reconnect}\n\n";
        }
    }
}
