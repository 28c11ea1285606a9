using Jobplane.Api;
using Jobplane.Controller.Auth;
using Jobplane.Controller.Http;
using Jobplane.Store;

namespace Jobplane.Controller.Endpoints;

/// <summary>Job definitions and running them: tenant API key.</summary>
public static class JobEndpoints
{
    public static void MapJobEndpoints(this IEndpointRouteBuilder app)
    {
        var jobs = app.MapGroup("/jobs").RequirePrincipal(PrincipalKind.Tenant);

        // Creates the job, or updates the tenant's job of the same name: 201 when new, 200 when it existed.
        jobs.MapPost("", async (HttpContext http, JobStore store, ControllerOptions options, CancellationToken ct) =>
        {
            var body = await JsonBody.ReadAsync(http.Request, JobplaneJsonContext.Default.CreateJobRequest);
            if (body.Error is not null) return body.Error;
            var r = body.Value!;
            var problem = Validate.Name(r.Name, "name")
                ?? Validate.Name(r.Image, "image", Limits.MaxImageLength)
                ?? Validate.Command(r.Command)
                ?? Validate.Range(r.DefaultTimeout, "default_timeout", 1, Limits.MaxTimeoutSeconds)
                ?? Validate.Range(r.MaxAttempts, "max_attempts", 1, Limits.MaxAttempts);
            if (problem is not null) return ApiResults.BadRequest(problem);

            var spec = new JobSpec(r.Name!.Trim(), r.Image!.Trim(), [.. r.Command ?? []],
                r.DefaultTimeout ?? options.DefaultTimeoutSeconds, r.Priority ?? Priority.Normal,
                r.MaxAttempts ?? options.DefaultMaxAttempts);
            var (jobId, created) = await store.UpsertAsync(http.TenantId(), spec, ct);
            return Results.Json(new CreateJobResponse(jobId), JobplaneJsonContext.Default.CreateJobResponse,
                statusCode: created ? 201 : 200);
        });

        jobs.MapGet("", async (HttpContext http, JobStore store, CancellationToken ct) =>
        {
            if (!Validate.TryPage(http.Request, 50, Limits.MaxPageSize, out var limit, out var offset, out var error)) return error!;
            var list = await store.ListAsync(http.TenantId(), limit, offset, ct);
            return Results.Json(new JobList(list, limit, offset), JobplaneJsonContext.Default.JobList);
        });

        jobs.MapGet("/{id}", async (string id, HttpContext http, JobStore store, CancellationToken ct) =>
        {
            if (!Guid.TryParse(id, out var jobId)) return ApiResults.NotFound("job");
            var job = await store.GetAsync(http.TenantId(), jobId, ct);
            return job is null ? ApiResults.NotFound("job") : Results.Json(job, JobplaneJsonContext.Default.JobView);
        });

        jobs.MapPost("/{id}/run", async (string id, HttpContext http, ExecutionStore store, ControllerMetrics metrics, CancellationToken ct) =>
        {
            if (!Guid.TryParse(id, out var jobId)) return ApiResults.NotFound("job");
            var body = await JsonBody.ReadAsync(http.Request, JobplaneJsonContext.Default.RunJobRequest, optional: true);
            if (body.Error is not null) return body.Error;
            var r = body.Value ?? new RunJobRequest();
            var problem = Validate.Range(r.Timeout, "timeout", 1, Limits.MaxTimeoutSeconds);
            if (problem is not null) return ApiResults.BadRequest(problem);

            var run = await store.RunAsync(http.TenantId(), jobId, new RunOptions(r.ScheduledAt, r.Timeout, r.Priority), ct);
            if (run is null) return ApiResults.NotFound("job");
            metrics.Submitted(run.Status);
            return Results.Json(run, JobplaneJsonContext.Default.RunJobResponse, statusCode: 201);
        });
    }
}
