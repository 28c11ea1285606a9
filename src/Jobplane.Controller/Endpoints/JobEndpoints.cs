using System.Diagnostics;
using Jobplane.Api;
using Jobplane.Controller.Auth;
using Jobplane.Controller.Http;
using Jobplane.Controller.Images;
using Jobplane.Controller.Observability;
using Jobplane.Observability;
using Jobplane.Store;

namespace Jobplane.Controller.Endpoints;

/// <summary>Job definitions and running them: tenant API key.</summary>
public static class JobEndpoints
{
    public static void MapJobEndpoints(this IEndpointRouteBuilder app)
    {
        var jobs = app.MapGroup("").RequirePrincipal(PrincipalKind.Tenant).WithTags("Jobs");

        // Creates the job, or updates the tenant's job of the same name: 201 when new, 200 when it existed.
        jobs.MapPost(Routes.Jobs, CreateJob).RefusedWhenSuspended()
            .Doc("createJob", "Create or update a job", "201 when new; 200 when this tenant's job of the same name was updated (the definition is replaced: "
                + "fields not given take their defaults). 403 network_not_allowed when it asks for network and the tenant is not allowed network; "
                + "403 runtime_not_allowed when its image is exec and the tenant's allowed_runtimes exclude exec; "
                + "400 when image is neither exec nor a reference the Docker engine can read ([registry/]path[:tag][@digest], lowercase path); "
                + "403 image_not_allowed when its registry is not in the operator's IMAGE_REGISTRIES (when set).")
            .JsonRequest<CreateJobRequest>(Limits.JobBodyBytes)
            .Returns<CreateJobResponse>(201)
            .Returns<CreateJobResponse>(200)
            .Errors(403);

        jobs.MapGet(Routes.Jobs, ListJobs)
            .Doc("listJobs", "List jobs", "Newest first. A command longer than LIST_COMMAND_MAX_CHARS (default 1024) characters is cut to them and marked "
                + "command_truncated: true (GET /jobs/{id} answers it whole). Pass next_cursor as cursor for the next page; it is absent on the last page.")
            .Paged(50, Limits.MaxPageSize, cursor: true)
            .Returns<JobList>();

        jobs.MapGet(Routes.Job, GetJob)
            .Doc("getJob", "Read a job")
            .Returns<JobView>()
            .Errors(404);

        jobs.MapPost(Routes.JobRun, RunJob).RefusedWhenSuspended()
            .KeyCheckedInTransaction()
            .Doc("runJob", "Run a job", "Creates an execution. With an Idempotency-Key header (1..255 printable ASCII), a repeat within 24 h answers 200 with the same execution and replayed: true. "
                + "403 image_not_allowed when the job's image comes from a registry the operator's IMAGE_REGISTRIES no longer lists; nothing is queued.")
            .JsonRequest<RunJobRequest>(Limits.SmallBodyBytes, optional: true)
            .Returns<RunJobResponse>(201)
            .Returns<RunJobResponse>(200)
            .Errors(403, 404, 409);

        // Many executions of one job in one request and one commit.
        jobs.MapPost(Routes.JobRuns, RunJobMany).RefusedWhenSuspended()
            .Doc("runJobMany", "Run a job many times", "count executions in one request and one commit. "
                + "403 image_not_allowed when the job's image comes from a registry the operator's IMAGE_REGISTRIES no longer lists; nothing is queued.")
            .JsonRequest<BatchRunRequest>(Limits.SmallBodyBytes)
            .Returns<BatchRunResponse>(201)
            .Errors(403, 404);

        // Cancels every unfinished execution of the job.
        jobs.MapPost(Routes.JobCancel, CancelJob)
            .Doc("cancelJob", "Cancel every unfinished execution of a job", "Waiting executions end CANCELLED (counted in cancelled); running ones are "
                + "asked to stop (counted in stopping). A backlog of any size is cancelled in chunks of 2,000, each committed as it goes: "
                + "a request cut off half way keeps what it cancelled, and repeating it finishes the rest.")
            .Returns<BulkCancelResponse>()
            .Errors(404);
    }

    private static async Task<IResult> CreateJob(HttpContext http, JobStore store, ControllerOptions options, CancellationToken ct)
    {
        var body = await JsonBody.ReadAsync(http.Request, JobplaneJsonContext.Default.CreateJobRequest, Limits.JobBodyBytes);
        if (body.Error is not null) return body.Error;
        if (BuildSpec(body.Value!, options, out var spec) is { } refused) return refused;
        var (jobId, created, error) = await UpsertAsync(store, http.TenantId(), spec!, ct);
        return error ?? Results.Json(new CreateJobResponse(jobId), JobplaneJsonContext.Default.CreateJobResponse,
            statusCode: created ? 201 : 200);
    }

    /// <summary>
    /// A job definition checked and completed with the operator's defaults, or the error answering it
    /// (400 naming the field, 403 for a registry the operator does not allow). Nothing is written.
    /// </summary>
    internal static IResult? BuildSpec(CreateJobRequest r, ControllerOptions options, out JobSpec? spec, string field = "")
    {
        spec = null;
        var problem = Validate.Name(r.Name, "name")
            ?? Validate.Image(r.Image)
            ?? Validate.Command(r.Command)
            ?? Validate.Range(r.DefaultTimeout, "default_timeout", 1, Limits.MaxTimeoutSeconds)
            ?? Validate.Range(r.MaxAttempts, "max_attempts", 1, Limits.MaxAttempts)
            ?? Validate.RetryPolicy(r.RetryBackoffBase, r.RetryBackoffMax, r.NonRetryableExitCodes)
            ?? Validate.Resources(r.Resources);
        if (problem is not null) return ApiResults.BadRequest(field.Length > 0 ? $"{field}: {problem}" : problem);
        // The operator's registries, before anything is written: a refused job is not stored.
        if (options.ImageRegistries.Refusal(r.Image!.Trim()) is { } refused)
            return ApiResults.Error(403, ErrorCodes.ImageNotAllowed, refused);
        spec = new JobSpec(r.Name!.Trim(), r.Image!.Trim(), [.. r.Command ?? []],
            r.DefaultTimeout ?? options.DefaultTimeoutSeconds, r.Priority ?? Priority.Normal,
            r.MaxAttempts ?? options.DefaultMaxAttempts)
        {
            RetryBackoffBaseSeconds = r.RetryBackoffBase,
            RetryBackoffMaxSeconds = r.RetryBackoffMax,
            NonRetryableExitCodes = [.. (r.NonRetryableExitCodes ?? []).Distinct().Order()],
            MemoryLimitBytes = r.Resources?.MemoryMib * (1L << 20),
            CpuLimit = r.Resources?.Cpus,
            PidsLimit = r.Resources?.Pids,
            Network = r.Network ?? false,
            RunAsRoot = r.RunAsRoot ?? false,
        };
        return null;
    }

    /// <summary>Creates or updates (by name) the tenant's job; the error answering a tenant not allowed what it asks for.</summary>
    internal static async Task<(Guid JobId, bool Created, IResult? Error)> UpsertAsync(JobStore store, Guid tenantId, JobSpec spec, CancellationToken ct)
    {
        try
        {
            var (jobId, created) = await store.UpsertAsync(tenantId, spec, ct);
            return (jobId, created, null);
        }
        catch (NetworkNotAllowedException e)
        {
            return (Guid.Empty, false, ApiResults.Error(403, ErrorCodes.NetworkNotAllowed, e.Message));
        }
        catch (RuntimeNotAllowedException e)
        {
            return (Guid.Empty, false, ApiResults.Error(403, ErrorCodes.RuntimeNotAllowed, e.Message));
        }
    }

    private static async Task<IResult> ListJobs(HttpContext http, JobStore store, ControllerOptions options, CancellationToken ct)
    {
        if (!Validate.TryListPage(http.Request, 50, Limits.MaxPageSize, PageCursor.Lists.Jobs, out var request, out var error)) return error!;
        var page = await store.ListPageAsync(http.TenantId(), request, options.ListCommandMaxChars, ct);
        var next = page.More ? PageCursor.Encode(PageCursor.Lists.Jobs, new PagePosition(page.Items[^1].CreatedAt, page.Items[^1].Id)) : null;
        return Results.Json(new JobList(page.Items.Map(WireMapping.ToWire), request.Limit, request.Offset) { NextCursor = next }, JobplaneJsonContext.Default.JobList);
    }

    private static async Task<IResult> GetJob(string id, HttpContext http, JobStore store, CancellationToken ct)
    {
        if (!Guid.TryParse(id, out var jobId)) return ApiResults.NotFound("job");
        var job = await store.GetAsync(http.TenantId(), jobId, ct);
        return job is null ? ApiResults.NotFound("job") : Results.Json(job.ToWire(), JobplaneJsonContext.Default.JobView);
    }

    private static async Task<IResult> RunJob(string id, HttpContext http, JobSubmission submission, Authenticator auth, CancellationToken ct)
    {
        if (!Guid.TryParse(id, out var jobId)) return ApiResults.NotFound("job");
        var body = await JsonBody.ReadAsync(http.Request, JobplaneJsonContext.Default.RunJobRequest, Limits.SmallBodyBytes, optional: true);
        if (body.Error is not null) return body.Error;
        var r = body.Value ?? new RunJobRequest();
        if (JobSubmission.RunProblem(r.Timeout) is { } problem) return ApiResults.BadRequest(problem);

        var key = http.Request.Headers[Wire.IdempotencyKeyHeader].ToString();
        if (key.Length > 0 && (key.Length > 255 || key.Any(c => c is < ' ' or > '~') || key[0] == ' ' || key[^1] == ' '))
            return ApiResults.BadRequest($"{Wire.IdempotencyKeyHeader} must be 1 to 255 printable ASCII characters, not starting or ending with a space");

        var principal = http.Principal();
        // A key admitted without a lookup is checked by the statement too: a revoked key learns nothing of the job.
        var deferredKey = principal.KeyCheckDeferred ? principal.Key!.KeyId : (Guid?)null;
        var options = new RunOptions(r.ScheduledAt, r.Timeout, r.Priority);
        Submission run;
        try
        {
            run = await submission.RunOnceAsync(principal.TenantId, jobId, options, key.Length > 0 ? key : null, deferredKey, ct);
            if (run.NotFound && principal.KeyCheckDeferred)
            {
                // Admitted on a recent verification, and the statement created nothing: the key may
                // have been revoked or the tenant suspended since. Ask the database, then decide.
                var presented = AuthFilter.PresentedToken(http);
                var current = await auth.AuthenticateAsync(PrincipalKind.Tenant, presented, ct);
                if (current is null) return AuthFilter.Unauthorized(http, PrincipalKind.Tenant, presented);
                if (current.Key!.Suspended) return AuthFilter.Suspended();
                // The image read found nothing for a key that was not live then: the submission reads it again.
                run = await submission.RunOnceAsync(current.TenantId, jobId, options, null, null, ct);
            }
        }
        catch (StoreConflictException e)
        {
            return ApiResults.Conflict(e.Message);
        }
        if (run.Refused is not null) return run.Refused;
        if (run.NotFound) return ApiResults.NotFound("job");
        var response = new SubmittedRun(run.ExecutionIds[0], run.Status!, run.Replayed).ToWire();
        return Results.Json(response, JobplaneJsonContext.Default.RunJobResponse, statusCode: run.Replayed ? 200 : 201);
    }

    private static async Task<IResult> RunJobMany(string id, HttpContext http, JobSubmission submission, CancellationToken ct)
    {
        if (!Guid.TryParse(id, out var jobId)) return ApiResults.NotFound("job");
        var body = await JsonBody.ReadAsync(http.Request, JobplaneJsonContext.Default.BatchRunRequest, Limits.SmallBodyBytes);
        if (body.Error is not null) return body.Error;
        var r = body.Value!;
        var problem = JobSubmission.RunsProblem(r.Count, r.Timeout);
        if (http.Request.Headers.ContainsKey(Wire.IdempotencyKeyHeader))
            problem ??= $"{Wire.IdempotencyKeyHeader} is not supported on /runs: use /run for idempotent submission";
        if (problem is not null) return ApiResults.BadRequest(problem);
        var runs = await submission.RunManyAsync(http.TenantId(), jobId, r.Count!.Value, new RunOptions(r.ScheduledAt, r.Timeout, r.Priority), ct);
        if (runs.Refused is not null) return runs.Refused;
        if (runs.NotFound) return ApiResults.NotFound("job");
        return Results.Json(new SubmittedBatch(runs.ExecutionIds, runs.Status!).ToWire(), JobplaneJsonContext.Default.BatchRunResponse, statusCode: 201);
    }

    private static async Task<IResult> CancelJob(string id, HttpContext http, ExecutionStore store, CancellationToken ct)
    {
        if (!Guid.TryParse(id, out var jobId)) return ApiResults.NotFound("job");
        var result = await store.CancelJobAsync(http.TenantId(), jobId, ct);
        return result is null ? ApiResults.NotFound("job") : Results.Json(result.ToWire(), JobplaneJsonContext.Default.BulkCancelResponse);
    }
}
