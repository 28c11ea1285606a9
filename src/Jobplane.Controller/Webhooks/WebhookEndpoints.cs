using System.Globalization;
using Jobplane.Api;
using Jobplane.Controller.Auth;
using Jobplane.Controller.Http;
using Jobplane.Store.Webhooks;
using Microsoft.OpenApi;

namespace Jobplane.Controller.Webhooks;

/// <summary>
/// A tenant's webhook endpoints (tenant API key): create (the signing secret is shown once), list,
/// read, change, delete, rotate the secret, send a test event, and the delivery log with
/// redelivery. A URL is checked in full before anything is written: scheme, shape, and every
/// address its host resolves to (no private, loopback, link-local, multicast or unspecified
/// address unless the operator allow-listed its range).
/// </summary>
public static class WebhookEndpoints
{
    public const int MaxJobFilters = 100;
    public const int MaxDescriptionChars = 500;
    private const int DefaultDeliveryPage = 50;

    public static void MapWebhookEndpoints(this IEndpointRouteBuilder app)
    {
        var hooks = app.MapGroup("").RequirePrincipal(PrincipalKind.Tenant).WithTags("Webhooks");
        var events = string.Join(", ", WebhookEvents.Subscribable);

        hooks.MapPost(Routes.Webhooks, Create).RefusedWhenSuspended()
            .Doc("createWebhook", "Create a webhook endpoint", $"url and events ({events}) are required; job_ids or job_names narrow it to some jobs. "
                + "The answer carries the signing secret (whsec_...), shown this once. Deliveries are signed per the Standard Webhooks specification "
                + "(webhook-id, webhook-timestamp, webhook-signature). 400 names the field that is wrong, including a URL whose host is or resolves to "
                + "a private, loopback, link-local, multicast or unspecified address; 409 when the tenant holds MAX_WEBHOOKS_PER_TENANT endpoints.")
            .JsonRequest<WebhookRequest>(Limits.SmallBodyBytes)
            .Returns<WebhookView>(201)
            .Errors(403, 409);

        hooks.MapGet(Routes.Webhooks, List)
            .Doc("listWebhooks", "List webhook endpoints", "Oldest first; never a secret.")
            .Returns<WebhookList>();

        hooks.MapGet(Routes.Webhook, Get)
            .Doc("getWebhook", "Read a webhook endpoint", "With the reason the platform disabled it, if it did.")
            .Returns<WebhookView>()
            .Errors(404);

        hooks.MapPatch(Routes.Webhook, Update).RefusedWhenSuspended()
            .Doc("updateWebhook", "Change a webhook endpoint", "Only the fields given change; an empty job_ids or job_names removes that filter. "
                + "enabled: true turns a disabled endpoint back on, and its pending deliveries go out again.")
            .JsonRequest<WebhookRequest>(Limits.SmallBodyBytes)
            .Returns<WebhookView>()
            .Errors(403, 404);

        hooks.MapDelete(Routes.Webhook, Delete)
            .Doc("deleteWebhook", "Delete a webhook endpoint", "With its deliveries, sent or not.")
            .Produces(204)
            .Errors(404);

        hooks.MapPost(Routes.WebhookRotateSecret, Rotate)
            .Doc("rotateWebhookSecret", "Rotate a webhook endpoint's signing secret", "The answer carries the new secret, shown this once. "
                + "For overlap_seconds (default WEBHOOK_SECRET_OVERLAP) every delivery carries a signature with each secret, so the receiver can switch over.")
            .JsonRequest<RotateWebhookSecretRequest>(Limits.SmallBodyBytes, optional: true)
            .Returns<WebhookView>()
            .Errors(404);

        hooks.MapPost(Routes.WebhookTest, SendTest)
            .Doc("testWebhook", "Send a test event", "A webhook.test event to this endpoint, signed as every delivery is; see it in the delivery log. "
                + $"409 when the endpoint is disabled, or when {WebhookDeliveryStore.MaxPendingTests} test deliveries are already waiting for it.")
            .Returns<WebhookTestResponse>(202)
            .Errors(404, 409);

        hooks.MapGet(Routes.WebhookDeliveries, Deliveries)
            .Doc("listWebhookDeliveries", "List an endpoint's deliveries", "Newest first, with their state, attempts and last answer; "
                + "pass next_before as before for the next page.")
            .Query("limit", JsonSchemaType.Integer, $"deliveries per page, 1..{Limits.MaxPageSize} (default {DefaultDeliveryPage})")
            .Query("before", JsonSchemaType.String, "deliveries older than this delivery id")
            .Returns<WebhookDeliveryList>()
            .Errors(400, 404);

        hooks.MapGet(Routes.WebhookDelivery, Delivery)
            .Doc("getWebhookDelivery", "Read one delivery", "With every attempt: when, the status code, latency, error and the first bytes of the answer.")
            .Returns<WebhookDeliveryView>()
            .Errors(404);

        hooks.MapPost(Routes.WebhookRedeliver, Redeliver)
            .Doc("redeliverWebhook", "Send a delivery again", "Same webhook-id and body, due now, with a fresh retry period. 409 while it is still pending.")
            .Produces(202)
            .Errors(404, 409);
    }

    private static async Task<IResult> Create(HttpContext http, WebhookStore store, WebhookGuard guard, ControllerOptions options, CancellationToken ct)
    {
        var body = await JsonBody.ReadAsync(http.Request, JobplaneJsonContext.Default.WebhookRequest, Limits.SmallBodyBytes);
        if (body.Error is not null) return body.Error;
        var r = body.Value!;
        if (r.Url is null) return ApiResults.BadRequest("url is required");
        if (r.Events is null) return ApiResults.BadRequest($"events is required: one or more of {string.Join(", ", WebhookEvents.Subscribable)}");
        var (spec, problem) = await CheckAsync(r, guard, ct);
        if (problem is not null) return ApiResults.BadRequest(problem);
        var secret = WebhookGuard.NewSecret();
        var (created, refusal) = await store.CreateAsync(http.TenantId(), spec, secret, http.Principal().Actor, options.Webhooks.MaxPerTenant, ct);
        return refusal switch
        {
            WebhookRefusal.TooMany => ApiResults.Conflict(
                $"the tenant already holds {options.Webhooks.MaxPerTenant} webhook endpoints (MAX_WEBHOOKS_PER_TENANT); delete one first"),
            WebhookRefusal.NotFound => ApiResults.NotFound("tenant"),
            _ => Results.Json(ToWire(created!) with { Secret = secret }, JobplaneJsonContext.Default.WebhookView, statusCode: 201),
        };
    }

    private static async Task<IResult> List(HttpContext http, WebhookStore store, CancellationToken ct) =>
        Results.Json(new WebhookList([.. (await store.ListAsync(http.TenantId(), ct)).Select(ToWire)]), JobplaneJsonContext.Default.WebhookList);

    private static async Task<IResult> Get(string id, HttpContext http, WebhookStore store, CancellationToken ct)
    {
        if (!Guid.TryParse(id, out var hookId) || await store.GetAsync(http.TenantId(), hookId, ct) is not { } hook) return ApiResults.NotFound("webhook");
        return Results.Json(ToWire(hook), JobplaneJsonContext.Default.WebhookView);
    }

    private static async Task<IResult> Update(string id, HttpContext http, WebhookStore store, WebhookGuard guard, CancellationToken ct)
    {
        if (!Guid.TryParse(id, out var hookId)) return ApiResults.NotFound("webhook");
        var body = await JsonBody.ReadAsync(http.Request, JobplaneJsonContext.Default.WebhookRequest, Limits.SmallBodyBytes);
        if (body.Error is not null) return body.Error;
        var (change, problem) = await CheckAsync(body.Value!, guard, ct);
        if (problem is not null) return ApiResults.BadRequest(problem);
        var updated = await store.UpdateAsync(http.TenantId(), hookId, change, http.Principal().Actor, ct);
        return updated is null ? ApiResults.NotFound("webhook") : Results.Json(ToWire(updated), JobplaneJsonContext.Default.WebhookView);
    }

    private static async Task<IResult> Delete(string id, HttpContext http, WebhookStore store, CancellationToken ct) =>
        Guid.TryParse(id, out var hookId) && await store.DeleteAsync(http.TenantId(), hookId, http.Principal().Actor, ct)
            ? Results.NoContent() : ApiResults.NotFound("webhook");

    private static async Task<IResult> Rotate(string id, HttpContext http, WebhookStore store, ControllerOptions options, CancellationToken ct)
    {
        if (!Guid.TryParse(id, out var hookId)) return ApiResults.NotFound("webhook");
        var body = await JsonBody.ReadAsync(http.Request, JobplaneJsonContext.Default.RotateWebhookSecretRequest, Limits.SmallBodyBytes, optional: true);
        if (body.Error is not null) return body.Error;
        var overlap = options.Webhooks.SecretOverlap;
        if (body.Value?.OverlapSeconds is { } seconds)
        {
            if (seconds < 0 || seconds > 30 * 24 * 3600) return ApiResults.BadRequest($"overlap_seconds must be between 0 and {30 * 24 * 3600} (got {seconds})");
            overlap = TimeSpan.FromSeconds(seconds);
        }
        var secret = WebhookGuard.NewSecret();
        var rotated = await store.RotateSecretAsync(http.TenantId(), hookId, secret, overlap, http.Principal().Actor, ct);
        return rotated is null ? ApiResults.NotFound("webhook") : Results.Json(ToWire(rotated) with { Secret = secret }, JobplaneJsonContext.Default.WebhookView);
    }

    private static async Task<IResult> SendTest(string id, HttpContext http, WebhookStore store, WebhookDeliveryStore deliveries, CancellationToken ct)
    {
        if (!Guid.TryParse(id, out var hookId) || await store.GetAsync(http.TenantId(), hookId, ct) is not { } hook) return ApiResults.NotFound("webhook");
        if (!hook.Enabled) return ApiResults.Conflict($"the endpoint is disabled ({hook.DisabledReason ?? "by the tenant"}); enable it first");
        return await deliveries.SendTestAsync(http.TenantId(), hookId, ct) switch
        {
            null => ApiResults.Conflict($"{WebhookDeliveryStore.MaxPendingTests} test deliveries are already waiting for this endpoint; "
                                        + "wait until they are sent (see its deliveries)"),
            { } deliveryId when deliveryId == Guid.Empty => ApiResults.NotFound("webhook"),
            { } deliveryId => Results.Json(new WebhookTestResponse(deliveryId), JobplaneJsonContext.Default.WebhookTestResponse, statusCode: 202),
        };
    }

    private static async Task<IResult> Deliveries(string id, HttpContext http, WebhookStore store, WebhookDeliveryStore deliveries, CancellationToken ct)
    {
        if (!Guid.TryParse(id, out var hookId) || await store.GetAsync(http.TenantId(), hookId, ct) is null) return ApiResults.NotFound("webhook");
        var q = http.Request.Query;
        var limit = DefaultDeliveryPage;
        if (q["limit"].ToString() is { Length: > 0 } limitText
            && (!int.TryParse(limitText, NumberStyles.Integer, CultureInfo.InvariantCulture, out limit) || limit < 1 || limit > Limits.MaxPageSize))
            return ApiResults.BadRequest($"limit must be an integer between 1 and {Limits.MaxPageSize} (got '{limitText}')");
        Guid? before = null;
        if (q["before"].ToString() is { Length: > 0 } beforeText)
        {
            if (!Guid.TryParse(beforeText, out var b)) return ApiResults.BadRequest($"before must be a delivery id (got '{beforeText}')");
            before = b;
        }
        var page = await deliveries.ListAsync(http.TenantId(), hookId, before, limit, ct);
        return Results.Json(new WebhookDeliveryList([.. page.Items.Select(ToWire)]) { NextBefore = page.More ? page.Items[^1].Id : null },
            JobplaneJsonContext.Default.WebhookDeliveryList);
    }

    private static async Task<IResult> Delivery(string id, string deliveryId, HttpContext http, WebhookDeliveryStore deliveries, CancellationToken ct)
    {
        if (!Guid.TryParse(id, out var hookId) || !Guid.TryParse(deliveryId, out var did)
            || await deliveries.GetAsync(http.TenantId(), hookId, did, ct) is not { } delivery)
            return ApiResults.NotFound("delivery");
        return Results.Json(ToWire(delivery) with
        {
            AttemptLog = [.. delivery.AttemptLog.Select(a => new WebhookAttemptView(a.Attempt, a.At, a.StatusCode, a.LatencyMs, a.Error, a.ResponseHead))],
        }, JobplaneJsonContext.Default.WebhookDeliveryView);
    }

    private static async Task<IResult> Redeliver(string id, string deliveryId, HttpContext http, WebhookDeliveryStore deliveries, CancellationToken ct)
    {
        if (!Guid.TryParse(id, out var hookId) || !Guid.TryParse(deliveryId, out var did)
            || await deliveries.GetAsync(http.TenantId(), hookId, did, ct) is not { } delivery)
            return ApiResults.NotFound("delivery");
        if (delivery.State == "pending") return ApiResults.Conflict("the delivery is still pending: it will be tried again by itself");
        return await deliveries.RedeliverAsync(http.TenantId(), hookId, did, http.Principal().Actor, ct)
            ? Results.Accepted() : ApiResults.Conflict("the delivery is still pending: it will be tried again by itself");
    }

    /// <summary>
    /// Checks a create or change request in full; the spec to store, or the problem naming the
    /// field. Fields absent stay null (a change leaves them as they are).
    /// </summary>
    private static async Task<(WebhookEndpointSpec Spec, string? Problem)> CheckAsync(WebhookRequest r, WebhookGuard guard, CancellationToken ct)
    {
        var spec = new WebhookEndpointSpec();
        if (r.Description is { } description)
        {
            if (description.Length > MaxDescriptionChars) return (spec, $"description must be at most {MaxDescriptionChars} characters (got {description.Length})");
            spec = spec with { Description = StorableText.Clean(description) };
        }
        if (r.Events is { } events)
        {
            if (events.Count == 0) return (spec, $"events must name one or more of {string.Join(", ", WebhookEvents.Subscribable)}");
            if (events.FirstOrDefault(e => !WebhookEvents.Subscribable.Contains(e)) is { } unknown)
                return (spec, $"events: '{Shown(unknown)}' is not an event type; use {string.Join(", ", WebhookEvents.Subscribable)}");
            spec = spec with { Events = [.. events.Distinct(StringComparer.Ordinal)] };
        }
        if (r.JobIds is { } ids)
        {
            if (ids.Count > MaxJobFilters) return (spec, $"job_ids may name at most {MaxJobFilters} jobs (got {ids.Count})");
            spec = ids.Count == 0 ? spec with { ClearJobIds = true } : spec with { JobIds = [.. ids.Distinct()] };
        }
        if (r.JobNames is { } names)
        {
            if (names.Count > MaxJobFilters) return (spec, $"job_names may name at most {MaxJobFilters} jobs (got {names.Count})");
            foreach (var name in names)
                if (Validate.Name(name, "job_names") is { } bad) return (spec, bad);
            spec = names.Count == 0 ? spec with { ClearJobNames = true } : spec with { JobNames = [.. names.Select(n => n.Trim()).Distinct(StringComparer.Ordinal)] };
        }
        if (r.Url is { } url)
        {
            if (await guard.CheckUrlAsync(url, ct) is { } refused) return (spec, $"url: {refused}");
            spec = spec with { Url = url };
        }
        return (spec with { Enabled = r.Enabled }, null);
    }

    /// <summary>A value a tenant sent, quoted in an error: bounded, so an error cannot be made to echo a megabyte.</summary>
    private static string Shown(string value) => value.Length <= 100 ? value : value[..100] + "…";

    private static WebhookView ToWire(WebhookEndpointRecord r) => new()
    {
        Id = r.Id,
        Url = r.Url,
        Description = r.Description,
        Events = r.Events,
        JobIds = r.JobIds,
        JobNames = r.JobNames,
        Enabled = r.Enabled,
        DisabledReason = r.DisabledReason,
        FailingSince = r.FailingSince,
        PreviousSecretExpiresAt = r.PreviousSecret is null ? null : r.PreviousSecretExpiresAt,
        CreatedAt = r.CreatedAt,
        UpdatedAt = r.UpdatedAt,
    };

    private static WebhookDeliveryView ToWire(WebhookDeliveryRecord d) => new()
    {
        Id = d.Id,
        EventType = d.EventType,
        ExecutionId = d.ExecutionId,
        State = d.State,
        Attempts = d.Attempts,
        CreatedAt = d.CreatedAt,
        NextAttemptAt = d.NextAttemptAt,
        FinishedAt = d.FinishedAt,
        LastStatus = d.LastStatus,
        LastError = d.LastError,
    };
}
