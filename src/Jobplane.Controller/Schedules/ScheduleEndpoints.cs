using System.Globalization;
using Jobplane.Api;
using Jobplane.Controller.Auth;
using Jobplane.Controller.Endpoints;
using Jobplane.Controller.Http;
using Jobplane.Store;
using Jobplane.Store.Schedules;
using Microsoft.OpenApi;

namespace Jobplane.Controller.Schedules;

/// <summary>
/// Recurring schedules: tenant API key. Definitions are validated in full before anything is
/// written (400 naming the field); every answer shows the next five fire times, so a user sees what
/// the expression they wrote means in their zone.
/// </summary>
public static class ScheduleEndpoints
{
    /// <summary>The longest Idempotency-Key prefix: with a due time (at most 27 characters) the key stays within 255.</summary>
    public const int MaxIdempotencyPrefix = 200;
    public const int MaxCatchUp = 1000;
    public const int MaxIntervalSeconds = 366 * 24 * 3600;

    public static void MapScheduleEndpoints(this IEndpointRouteBuilder app)
    {
        var schedules = app.MapGroup("").RequirePrincipal(PrincipalKind.Tenant).WithTags("Schedules");

        schedules.MapPost(Routes.Schedules, Create).RefusedWhenSuspended()
            .Doc("createSchedule", "Create a recurring schedule", "name, one of job_id / job (a name) / job_definition (created or updated as POST /jobs would), "
                + "and one of cron / interval_seconds are required. 400 names the field that is wrong (an invalid expression, an unknown time zone, "
                + "an interval below the operator's SCHEDULE_MIN_INTERVAL); 409 when the name is taken or the tenant holds MAX_SCHEDULES_PER_TENANT schedules.")
            .JsonRequest<ScheduleRequest>(Limits.JobBodyBytes)
            .Returns<ScheduleView>(201)
            .Errors(403, 404, 409);

        schedules.MapGet(Routes.Schedules, List)
            .Doc("listSchedules", "List schedules", "Newest first; pass next_cursor as cursor for the next page, which is absent on the last page.")
            .Paged(50, Limits.MaxPageSize, cursor: true)
            .Returns<ScheduleList>();

        schedules.MapGet(Routes.Schedule, Get)
            .Doc("getSchedule", "Read a schedule")
            .Returns<ScheduleView>()
            .Errors(404);

        schedules.MapPatch(Routes.Schedule, Update).RefusedWhenSuspended()
            .Doc("updateSchedule", "Change a schedule", "Only the fields given change (cron replaces interval_seconds and the reverse). "
                + "A changed timing starts afresh from now: nothing it would have fired earlier counts as missed.")
            .JsonRequest<ScheduleRequest>(Limits.JobBodyBytes)
            .Returns<ScheduleView>()
            .Errors(403, 404, 409);

        schedules.MapDelete(Routes.Schedule, Delete)
            .Doc("deleteSchedule", "Delete a schedule", "With its history; the executions it fired stay.")
            .Produces(204)
            .Errors(404);

        schedules.MapPost(Routes.SchedulePause, Pause)
            .Doc("pauseSchedule", "Pause a schedule", "Nothing fires after this answer (a firing in progress finishes first).")
            .Returns<ScheduleView>()
            .Errors(404);

        schedules.MapPost(Routes.ScheduleResume, Resume).RefusedWhenSuspended()
            .Doc("resumeSchedule", "Resume a schedule", "Due times that passed while it was paused are missed: its misfire policy decides what they do.")
            .Returns<ScheduleView>()
            .Errors(404);

        schedules.MapPost(Routes.ScheduleTrigger, Trigger).RefusedWhenSuspended()
            .Doc("triggerSchedule", "Run a schedule's job now", "With the schedule's run options, recorded in its history as a manual fire; "
                + "paused or not, and without moving its next due time or applying its overlap policy.")
            .Returns<ScheduleTriggerResponse>(201)
            .Errors(404);

        schedules.MapGet(Routes.ScheduleHistory, History)
            .Doc("listScheduleFires", "Read a schedule's history", "Each due time handled (fired, skipped with the reason, queued) and each manual trigger, "
                + "newest first; pass next_before_id as before_id for the next page.")
            .Query("limit", JsonSchemaType.Integer, $"entries per page, 1..{Limits.MaxPageSize} (default 50)")
            .Query("before_id", JsonSchemaType.Integer, "entries older than this id")
            .Returns<ScheduleHistory>()
            .Errors(400, 404);
    }

    private static async Task<IResult> Create(HttpContext http, ScheduleStore store, JobStore jobs, ControllerOptions options, TimeProvider time,
        CancellationToken ct)
    {
        var body = await JsonBody.ReadAsync(http.Request, JobplaneJsonContext.Default.ScheduleRequest, Limits.JobBodyBytes);
        if (body.Error is not null) return body.Error;
        var r = body.Value!;
        var tenantId = http.TenantId();
        var references = (r.JobId is null ? 0 : 1) + (r.Job is null ? 0 : 1) + (r.JobDefinition is null ? 0 : 1);
        if (references != 1) return ApiResults.BadRequest("give exactly one of job_id, job (a job's name) or job_definition");
        if (r.Cron is null && r.IntervalSeconds is null) return ApiResults.BadRequest("give cron or interval_seconds");
        JobSpec? spec = null;
        if (r.JobDefinition is { } definition && JobEndpoints.BuildSpec(definition, options, out spec, "job_definition") is { } refused) return refused;
        var (merged, problem) = Merge(r, null, r.JobId ?? Guid.Empty, options, time);
        if (problem is not null) return problem;

        Guid jobId;
        if (spec is not null)
        {
            var upserted = await JobEndpoints.UpsertAsync(jobs, tenantId, spec, ct);
            if (upserted.Error is not null) return upserted.Error;
            jobId = upserted.JobId;
        }
        else if (r.Job is { } jobName)
        {
            if (await jobs.FindIdAsync(tenantId, jobName.Trim(), ct) is not { } found) return ApiResults.NotFound($"job '{jobName.Trim()}'");
            jobId = found;
        }
        else jobId = r.JobId!.Value;

        var (created, refusal) = await store.CreateAsync(tenantId, merged! with { JobId = jobId }, http.Principal().Actor, options.Schedules.MaxPerTenant, ct);
        return refusal switch
        {
            ScheduleRefusal.JobNotFound => ApiResults.NotFound("job"),
            ScheduleRefusal.NameTaken => ApiResults.Conflict($"a schedule named '{merged!.Name}' already exists"),
            ScheduleRefusal.TooMany => ApiResults.Error(409, ErrorCodes.Conflict,
                $"the tenant already holds {options.Schedules.MaxPerTenant} schedules (MAX_SCHEDULES_PER_TENANT); delete one first"),
            _ => Results.Json(ToWire(created!), JobplaneJsonContext.Default.ScheduleView, statusCode: 201),
        };
    }

    private static async Task<IResult> List(HttpContext http, ScheduleStore store, CancellationToken ct)
    {
        if (!Validate.TryListPage(http.Request, 50, Limits.MaxPageSize, PageCursor.Lists.Schedules, out var request, out var error)) return error!;
        var page = await store.ListPageAsync(http.TenantId(), request, ct);
        var next = page.More ? PageCursor.Encode(PageCursor.Lists.Schedules, new PagePosition(page.Items[^1].CreatedAt, page.Items[^1].Id)) : null;
        return Results.Json(new ScheduleList([.. page.Items.Select(ToWire)], request.Limit, request.Offset) { NextCursor = next },
            JobplaneJsonContext.Default.ScheduleList);
    }

    private static async Task<IResult> Get(string id, HttpContext http, ScheduleStore store, CancellationToken ct)
    {
        if (!Guid.TryParse(id, out var scheduleId)) return ApiResults.NotFound("schedule");
        var schedule = await store.GetAsync(http.TenantId(), scheduleId, ct);
        return schedule is null ? ApiResults.NotFound("schedule") : Results.Json(ToWire(schedule), JobplaneJsonContext.Default.ScheduleView);
    }

    private static async Task<IResult> Update(string id, HttpContext http, ScheduleStore store, JobStore jobs, ControllerOptions options,
        TimeProvider time, CancellationToken ct)
    {
        if (!Guid.TryParse(id, out var scheduleId)) return ApiResults.NotFound("schedule");
        var body = await JsonBody.ReadAsync(http.Request, JobplaneJsonContext.Default.ScheduleRequest, Limits.JobBodyBytes);
        if (body.Error is not null) return body.Error;
        var r = body.Value!;
        var tenantId = http.TenantId();
        var current = await store.GetAsync(tenantId, scheduleId, ct);
        if (current is null) return ApiResults.NotFound("schedule");
        var references = (r.JobId is null ? 0 : 1) + (r.Job is null ? 0 : 1) + (r.JobDefinition is null ? 0 : 1);
        if (references > 1) return ApiResults.BadRequest("give at most one of job_id, job (a job's name) or job_definition");
        if (r.Paused is not null) return ApiResults.BadRequest("paused cannot be changed here: use POST /schedules/{id}/pause or /resume");
        JobSpec? spec = null;
        if (r.JobDefinition is { } definition && JobEndpoints.BuildSpec(definition, options, out spec, "job_definition") is { } refused) return refused;
        var (merged, problem) = Merge(r, current.Definition, r.JobId ?? current.Definition.JobId, options, time);
        if (problem is not null) return problem;

        var jobId = merged!.JobId;
        if (spec is not null)
        {
            var upserted = await JobEndpoints.UpsertAsync(jobs, tenantId, spec, ct);
            if (upserted.Error is not null) return upserted.Error;
            jobId = upserted.JobId;
        }
        else if (r.Job is { } jobName)
        {
            if (await jobs.FindIdAsync(tenantId, jobName.Trim(), ct) is not { } found) return ApiResults.NotFound($"job '{jobName.Trim()}'");
            jobId = found;
        }
        var (updated, refusal) = await store.UpdateAsync(tenantId, scheduleId, merged with { JobId = jobId }, http.Principal().Actor, ct);
        return refusal switch
        {
            ScheduleRefusal.JobNotFound => ApiResults.NotFound("job"),
            ScheduleRefusal.NameTaken => ApiResults.Conflict($"a schedule named '{merged.Name}' already exists"),
            _ => updated is null ? ApiResults.NotFound("schedule") : Results.Json(ToWire(updated), JobplaneJsonContext.Default.ScheduleView),
        };
    }

    private static async Task<IResult> Delete(string id, HttpContext http, ScheduleStore store, CancellationToken ct)
    {
        if (!Guid.TryParse(id, out var scheduleId)) return ApiResults.NotFound("schedule");
        return await store.DeleteAsync(http.TenantId(), scheduleId, http.Principal().Actor, ct) ? Results.NoContent() : ApiResults.NotFound("schedule");
    }

    private static Task<IResult> Pause(string id, HttpContext http, ScheduleStore store, CancellationToken ct) =>
        SetPaused(id, http, ct, (t, s, a, c) => store.PauseAsync(t, s, a, c));

    private static Task<IResult> Resume(string id, HttpContext http, ScheduleStore store, CancellationToken ct) =>
        SetPaused(id, http, ct, (t, s, a, c) => store.ResumeAsync(t, s, a, c));

    private static async Task<IResult> SetPaused(string id, HttpContext http, CancellationToken ct,
        Func<Guid, Guid, string, CancellationToken, Task<ScheduleRecord?>> change)
    {
        if (!Guid.TryParse(id, out var scheduleId)) return ApiResults.NotFound("schedule");
        var schedule = await change(http.TenantId(), scheduleId, http.Principal().Actor, ct);
        return schedule is null ? ApiResults.NotFound("schedule") : Results.Json(ToWire(schedule), JobplaneJsonContext.Default.ScheduleView);
    }

    private static async Task<IResult> Trigger(string id, HttpContext http, ScheduleStore store, ControllerMetrics metrics, CancellationToken ct)
    {
        if (!Guid.TryParse(id, out var scheduleId)) return ApiResults.NotFound("schedule");
        var fired = await store.TriggerAsync(http.TenantId(), scheduleId, http.Principal().Actor, ct);
        if (fired is null) return ApiResults.NotFound("schedule");
        metrics.Submitted(ExecutionStatus.Pending);
        return Results.Json(new ScheduleTriggerResponse(scheduleId, fired.Value.ExecutionId, fired.Value.At),
            JobplaneJsonContext.Default.ScheduleTriggerResponse, statusCode: 201);
    }

    private static async Task<IResult> History(string id, HttpContext http, ScheduleStore store, CancellationToken ct)
    {
        if (!Guid.TryParse(id, out var scheduleId)) return ApiResults.NotFound("schedule");
        var query = http.Request.Query;
        var limit = 50;
        if (query["limit"].ToString() is { Length: > 0 } l
            && (!int.TryParse(l, NumberStyles.Integer, CultureInfo.InvariantCulture, out limit) || limit < 1 || limit > Limits.MaxPageSize))
            return ApiResults.BadRequest($"limit must be an integer between 1 and {Limits.MaxPageSize} (got '{l}')");
        long? beforeId = null;
        if (query["before_id"].ToString() is { Length: > 0 } b)
        {
            if (!long.TryParse(b, NumberStyles.Integer, CultureInfo.InvariantCulture, out var parsed) || parsed < 1)
                return ApiResults.BadRequest($"before_id must be a positive integer (got '{b}')");
            beforeId = parsed;
        }
        var page = await store.HistoryAsync(http.TenantId(), scheduleId, beforeId, limit, ct);
        if (page is null) return ApiResults.NotFound("schedule");
        var (items, more) = page.Value;
        return Results.Json(new ScheduleHistory([.. items.Select(ToWire)]) { NextBeforeId = more ? items[^1].Id : null },
            JobplaneJsonContext.Default.ScheduleHistory);
    }

    /// <summary>
    /// The definition a request makes of <paramref name="current"/> (null: a new schedule), checked in
    /// full: each problem is a 400 naming its field, and nothing has been written.
    /// </summary>
    internal static (ScheduleDefinition? Definition, IResult? Problem) Merge(ScheduleRequest r, ScheduleDefinition? current, Guid jobId,
        ControllerOptions options, TimeProvider time)
    {
        static (ScheduleDefinition?, IResult?) Bad(string message) => (null, ApiResults.BadRequest(message));

        if (r.Cron is not null && r.IntervalSeconds is not null) return Bad("give cron or interval_seconds, not both");
        var name = r.Name ?? current?.Name;
        if (Validate.Name(name, "name") is { } nameProblem) return Bad(nameProblem);
        var cron = r.Cron ?? (r.IntervalSeconds is null ? current?.Cron : null);
        var interval = r.IntervalSeconds ?? (r.Cron is null ? current?.IntervalSeconds : null);
        if (Validate.Range(interval, "interval_seconds", 1, MaxIntervalSeconds) is { } intervalProblem) return Bad(intervalProblem);
        if (cron is not null && StorableText.Problem(cron, "cron") is { } cronText) return Bad(cronText);
        var zone = r.TimeZone ?? current?.TimeZone ?? "UTC";
        if (StorableText.Problem(zone, "time_zone") is { } zoneText) return Bad(zoneText);
        var misfire = r.Misfire is null ? current?.Misfire ?? MisfirePolicy.FireOnce : SchedulePolicies.ParseMisfire(r.Misfire);
        if (misfire is null) return Bad($"misfire must be one of {string.Join(", ", SchedulePolicies.MisfireWords)} (got '{r.Misfire}')");
        var overlap = r.Overlap is null ? current?.Overlap ?? OverlapPolicy.Allow : SchedulePolicies.ParseOverlap(r.Overlap);
        if (overlap is null) return Bad($"overlap must be one of {string.Join(", ", SchedulePolicies.OverlapWords)} (got '{r.Overlap}')");
        if (Validate.Range(r.CatchUpMax, "catch_up_max", 1, MaxCatchUp) is { } catchUpProblem) return Bad(catchUpProblem);
        if (Validate.Range(r.Timeout, "timeout", 1, Limits.MaxTimeoutSeconds) is { } timeoutProblem) return Bad(timeoutProblem);
        var prefix = r.IdempotencyKeyPrefix ?? current?.IdempotencyPrefix;
        if (prefix is not null && (prefix.Length is 0 or > MaxIdempotencyPrefix || prefix.Any(c => c is < ' ' or > '~') || prefix[0] == ' '))
            return Bad($"idempotency_key_prefix must be 1 to {MaxIdempotencyPrefix} printable ASCII characters, not starting with a space");
        var startsAt = r.StartsAt ?? current?.StartsAt;
        var endsAt = r.EndsAt ?? current?.EndsAt;
        if (startsAt is { } s && endsAt is { } e && e <= s) return Bad("ends_at must be after starts_at");

        var definition = new ScheduleDefinition(name!.Trim(), jobId)
        {
            Cron = cron?.Trim(),
            IntervalSeconds = interval,
            TimeZone = zone.Trim(),
            StartsAt = startsAt,
            EndsAt = endsAt,
            Misfire = misfire.Value,
            CatchUpMax = r.CatchUpMax ?? current?.CatchUpMax ?? 1,
            Overlap = overlap.Value,
            Priority = r.Priority?.Value ?? current?.Priority,
            TimeoutSeconds = r.Timeout ?? current?.TimeoutSeconds,
            IdempotencyPrefix = prefix,
            Paused = r.Paused ?? current?.Paused ?? false,
        };
        var now = time.GetUtcNow();
        var timing = definition.Timing(now, out var timingProblem);
        if (timing is null) return Bad(timingProblem!);
        if (timing.ShortestGap(now) is { } gap && gap < options.Schedules.MinInterval)
        {
            return Bad($"{(cron is null ? "interval_seconds" : "cron")} fires {Durations.Format(gap)} apart at its closest; the operator's minimum "
                + $"(SCHEDULE_MIN_INTERVAL) is {Durations.Format(options.Schedules.MinInterval)}");
        }
        if (endsAt is { } end && end <= now) return Bad("ends_at must be in the future");
        if (timing.NextAfter(now) is null)
            return Bad(endsAt is null ? $"cron '{cron}' never fires (no date matches it)" : $"the schedule never fires before ends_at {endsAt:O}");
        return (definition, null);
    }

    internal static ScheduleView ToWire(ScheduleRecord s)
    {
        var d = s.Definition;
        var timing = s.Timing();
        var state = s.PausedAt is not null ? "paused" : s.NextDueAt is null ? "ended" : "active";
        return new ScheduleView
        {
            Id = s.Id,
            Name = d.Name,
            JobId = d.JobId,
            JobName = s.JobName,
            Cron = d.Cron,
            IntervalSeconds = d.IntervalSeconds,
            TimeZone = d.TimeZone,
            StartsAt = d.StartsAt,
            EndsAt = d.EndsAt,
            Misfire = d.Misfire.Word(),
            CatchUpMax = d.CatchUpMax,
            Overlap = d.Overlap.Word(),
            Priority = d.Priority is { } p ? new Priority(p) : null,
            Timeout = d.TimeoutSeconds,
            IdempotencyKeyPrefix = d.IdempotencyPrefix,
            State = state,
            PausedAt = s.PausedAt,
            NextDueAt = s.NextDueAt,
            NextFireTimes = s.NextDueAt is { } next ? timing.Upcoming(next, 5) : [],
            LastDueAt = s.LastDueAt,
            LastExecutionId = s.LastExecutionId,
            QueuedDueAt = s.QueuedDueAt,
            CreatedAt = s.CreatedAt,
            UpdatedAt = s.UpdatedAt,
        };
    }

    private static ScheduleFireView ToWire(ScheduleFireRecord f) => new()
    {
        Id = f.Id,
        DueAt = f.DueAt,
        Trigger = f.Trigger,
        Outcome = f.Outcome.Word(),
        ExecutionId = f.ExecutionId,
        ExecutionStatus = f.ExecutionStatus,
        Reason = f.Reason,
        Missed = f.Missed,
        FiredAt = f.FiredAt,
        LatenessMs = f.Outcome == FireOutcome.Fired && f.Trigger == "schedule" ? Math.Round((f.FiredAt - f.DueAt).TotalMilliseconds, 3) : null,
    };
}
