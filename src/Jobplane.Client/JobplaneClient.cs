using System.Net.Http.Headers;
using System.Net.ServerSentEvents;
using System.Runtime.CompilerServices;
using Jobplane.Api;

namespace Jobplane.Client;

/// <summary>
/// Typed calls to the controller's tenant and administrator API (jobctl's, and any other program's).
/// Owns no connection state beyond the HttpClient given; every path comes from <see cref="Routes"/>.
/// </summary>
public sealed partial class JobplaneClient
{
    /// <summary>Bound on one request/response exchange (not on a followed stream, which may last hours).</summary>
    public static readonly TimeSpan RequestTimeout = TimeSpan.FromSeconds(60);

    private readonly HttpClient http;
    private readonly string? token;
    private readonly ProductInfoHeaderValue userAgent;

    /// <param name="userAgent">Names the calling program to the controller's logs (e.g. jobctl/1.2.0).</param>
    public JobplaneClient(HttpClient http, Uri baseUrl, string? token = null, ProductInfoHeaderValue? userAgent = null)
    {
        this.http = http;
        this.token = token;
        this.userAgent = userAgent ?? new ProductInfoHeaderValue("jobplane-client", typeof(JobplaneClient).Assembly.GetName().Version?.ToString(3));
        // A trailing slash makes relative paths append to a prefix (https://host/jobplane/) instead of replacing it.
        BaseUrl = baseUrl.AbsoluteUri.EndsWith('/') ? baseUrl : new Uri(baseUrl.AbsoluteUri + "/");
    }

    public Uri BaseUrl { get; }

    /// <summary>Liveness: the controller process answers.</summary>
    public Task<ApiResponse<HealthResponse>> GetHealthAsync(CancellationToken ct) =>
        SendAsync(HttpMethod.Get, Routes.Healthz, null, ClientJson.Context.HealthResponse, ct);

    /// <summary>Readiness: the controller reaches its database (a 503 ApiException when it does not).</summary>
    public Task<ApiResponse<HealthResponse>> GetReadinessAsync(CancellationToken ct) =>
        SendAsync(HttpMethod.Get, Routes.Readyz, null, ClientJson.Context.HealthResponse, ct);

    public Task<ApiResponse<CreateTenantResponse>> CreateTenantAsync(TenantRequest request, CancellationToken ct) =>
        SendAsync(HttpMethod.Post, Routes.Tenants, Body(request, ClientJson.Context.TenantRequest), ClientJson.Context.CreateTenantResponse, ct);

    public Task UpdateTenantAsync(Guid tenantId, TenantRequest request, CancellationToken ct) =>
        SendNoContentAsync(HttpMethod.Patch, Routes.Of(Routes.Tenant, tenantId), Body(request, ClientJson.Context.TenantRequest), ct);

    public Task<ApiResponse<TenantList>> ListTenantsAsync(int? limit, int? offset, string? cursor, CancellationToken ct) =>
        SendAsync(HttpMethod.Get, Routes.Tenants + Query(("limit", Str(limit)), ("offset", Str(offset)), ("cursor", cursor)), null, ClientJson.Context.TenantList, ct);

    public Task<ApiResponse<TenantView>> GetTenantAsync(Guid tenantId, CancellationToken ct) =>
        SendAsync(HttpMethod.Get, Routes.Of(Routes.Tenant, tenantId), null, ClientJson.Context.TenantView, ct);

    public Task<ApiResponse<TenantView>> SetTenantSuspendedAsync(Guid tenantId, bool suspended, CancellationToken ct) =>
        SendAsync(HttpMethod.Post, Routes.Of(suspended ? Routes.TenantSuspend : Routes.TenantResume, tenantId), null, ClientJson.Context.TenantView, ct);

    /// <param name="tenantId">The tenant whose key to create (administrator); null: the caller's own tenant.</param>
    /// <param name="readOnly">True: a key that may read, and change nothing.</param>
    public Task<ApiResponse<CreateApiKeyResponse>> CreateApiKeyAsync(Guid? tenantId, string? name, CancellationToken ct, long? expiresInSeconds = null,
        bool readOnly = false) =>
        SendAsync(HttpMethod.Post, KeysPath(tenantId),
            Body(new CreateApiKeyRequest { Name = name, ExpiresIn = expiresInSeconds, ReadOnly = readOnly ? true : null }, ClientJson.Context.CreateApiKeyRequest),
            ClientJson.Context.CreateApiKeyResponse, ct);

    public Task<ApiResponse<ApiKeyList>> ListApiKeysAsync(Guid? tenantId, int? limit, string? cursor, CancellationToken ct) =>
        SendAsync(HttpMethod.Get, KeysPath(tenantId) + Query(("limit", Str(limit)), ("cursor", cursor)), null, ClientJson.Context.ApiKeyList, ct);

    public Task RevokeApiKeyAsync(Guid? tenantId, Guid keyId, CancellationToken ct) =>
        SendNoContentAsync(HttpMethod.Delete, tenantId is { } tenant ? Routes.Of(Routes.TenantApiKey, tenant.ToString(), keyId.ToString()) : Routes.Of(Routes.ApiKey, keyId), null, ct);

    private static string KeysPath(Guid? tenantId) => tenantId is { } id ? Routes.Of(Routes.TenantApiKeys, id) : Routes.ApiKeys;

    public Task<ApiResponse<CreateWorkerCredentialResponse>> CreateWorkerCredentialAsync(CreateWorkerCredentialRequest request, CancellationToken ct) =>
        SendAsync(HttpMethod.Post, Routes.WorkerCredentials, Body(request, ClientJson.Context.CreateWorkerCredentialRequest),
            ClientJson.Context.CreateWorkerCredentialResponse, ct);

    public Task<ApiResponse<WorkerCredentialList>> ListWorkerCredentialsAsync(int? limit, string? cursor, CancellationToken ct) =>
        SendAsync(HttpMethod.Get, Routes.WorkerCredentials + Query(("limit", Str(limit)), ("cursor", cursor)), null, ClientJson.Context.WorkerCredentialList, ct);

    public Task RevokeWorkerCredentialAsync(Guid credentialId, CancellationToken ct) =>
        SendNoContentAsync(HttpMethod.Delete, Routes.Of(Routes.WorkerCredential, credentialId), null, ct);

    public Task<ApiResponse<AuditPage>> ListAuditAsync(Guid? tenantId, long? beforeId, int? limit, CancellationToken ct) =>
        SendAsync(HttpMethod.Get, Routes.Audit + Query(("tenant_id", tenantId?.ToString()), ("before_id", Str(beforeId)), ("limit", Str(limit))),
            null, ClientJson.Context.AuditPage, ct);

    public Task<ApiResponse<CreateJobResponse>> CreateJobAsync(CreateJobRequest request, CancellationToken ct) =>
        SendAsync(HttpMethod.Post, Routes.Jobs, Body(request, ClientJson.Context.CreateJobRequest), ClientJson.Context.CreateJobResponse, ct);

    /// <param name="idempotencyKey">Sent as the Idempotency-Key header, exactly as given; null sends none.</param>
    public Task<ApiResponse<RunJobResponse>> RunJobAsync(Guid jobId, RunJobRequest request, string? idempotencyKey, CancellationToken ct) =>
        SendAsync(HttpMethod.Post, Routes.Of(Routes.JobRun, jobId), Body(request, ClientJson.Context.RunJobRequest), ClientJson.Context.RunJobResponse, ct,
            idempotencyKey is null ? null : [new(Wire.IdempotencyKeyHeader, idempotencyKey)]);

    /// <summary>Many executions of one job in one request (no Idempotency-Key: the controller refuses it here).</summary>
    public Task<ApiResponse<BatchRunResponse>> RunJobManyAsync(Guid jobId, BatchRunRequest request, CancellationToken ct) =>
        SendAsync(HttpMethod.Post, Routes.Of(Routes.JobRuns, jobId), Body(request, ClientJson.Context.BatchRunRequest), ClientJson.Context.BatchRunResponse, ct);

    public Task<ApiResponse<BulkCancelResponse>> CancelJobAsync(Guid jobId, CancellationToken ct) =>
        SendAsync(HttpMethod.Post, Routes.Of(Routes.JobCancel, jobId), null, ClientJson.Context.BulkCancelResponse, ct);

    public Task<ApiResponse<CancelResponse>> CancelExecutionAsync(Guid executionId, CancellationToken ct) =>
        SendAsync(HttpMethod.Post, Routes.Of(Routes.ExecutionCancel, executionId), null, ClientJson.Context.CancelResponse, ct);

    public Task<ApiResponse<IReadOnlyList<AttemptView>>> GetAttemptsAsync(Guid executionId, CancellationToken ct) =>
        SendAsync(HttpMethod.Get, Routes.Of(Routes.ExecutionAttempts, executionId), null, ClientJson.Context.IReadOnlyListAttemptView, ct);

    public Task<ApiResponse<ExecutionView>> GetExecutionAsync(Guid executionId, CancellationToken ct) =>
        SendAsync(HttpMethod.Get, Routes.Of(Routes.Execution, executionId), null, ClientJson.Context.ExecutionView, ct);

    public Task<ApiResponse<ExecutionList>> ListExecutionsAsync(string? status, Guid? jobId, int? limit, int? offset, string? cursor, CancellationToken ct) =>
        SendAsync(HttpMethod.Get, Routes.Executions + Query(("status", status), ("job_id", jobId?.ToString()), ("limit", Str(limit)), ("offset", Str(offset)), ("cursor", cursor)),
            null, ClientJson.Context.ExecutionList, ct);

    public Task<ApiResponse<LogPage>> GetLogsAsync(Guid executionId, long afterId, int limit, CancellationToken ct) =>
        SendAsync(HttpMethod.Get, Routes.Of(Routes.ExecutionLogs, executionId) + Query(("after_id", Str(afterId)), ("limit", Str(limit))),
            null, ClientJson.Context.LogPage, ct);

    public Task<ApiResponse<IReadOnlyList<DlqEntry>>> ListDlqAsync(int? limit, int? offset, string? cursor, CancellationToken ct) =>
        SendAsync(HttpMethod.Get, Routes.DeadLetters + Query(("limit", Str(limit)), ("offset", Str(offset)), ("cursor", cursor)),
            null, ClientJson.Context.IReadOnlyListDlqEntry, ct);

    public Task<ApiResponse<DlqRetryResponse>> RetryDlqAsync(Guid id, CancellationToken ct) =>
        SendAsync(HttpMethod.Post, Routes.Of(Routes.DeadLetterRetry, id), null, ClientJson.Context.DlqRetryResponse, ct);

    public Task<ApiResponse<DlqBulkRetryResponse>> RetryAllDlqAsync(Guid? jobId, CancellationToken ct) =>
        SendAsync(HttpMethod.Post, Routes.DeadLettersRetry, Body(new DlqBulkRequest { JobId = jobId }, ClientJson.Context.DlqBulkRequest),
            ClientJson.Context.DlqBulkRetryResponse, ct);

    public Task<ApiResponse<DlqPurgeResponse>> PurgeDlqAsync(Guid? jobId, CancellationToken ct) =>
        SendAsync(HttpMethod.Post, Routes.DeadLettersPurge, Body(new DlqBulkRequest { JobId = jobId }, ClientJson.Context.DlqBulkRequest),
            ClientJson.Context.DlqPurgeResponse, ct);

    public Task<ApiResponse<ScheduleView>> CreateScheduleAsync(ScheduleRequest request, CancellationToken ct) =>
        SendAsync(HttpMethod.Post, Routes.Schedules, Body(request, ClientJson.Context.ScheduleRequest), ClientJson.Context.ScheduleView, ct);

    public Task<ApiResponse<ScheduleList>> ListSchedulesAsync(int? limit, string? cursor, CancellationToken ct) =>
        SendAsync(HttpMethod.Get, Routes.Schedules + Query(("limit", Str(limit)), ("cursor", cursor)), null, ClientJson.Context.ScheduleList, ct);

    public Task<ApiResponse<ScheduleView>> GetScheduleAsync(Guid scheduleId, CancellationToken ct) =>
        SendAsync(HttpMethod.Get, Routes.Of(Routes.Schedule, scheduleId), null, ClientJson.Context.ScheduleView, ct);

    /// <summary>Changes only the fields the request gives.</summary>
    public Task<ApiResponse<ScheduleView>> UpdateScheduleAsync(Guid scheduleId, ScheduleRequest request, CancellationToken ct) =>
        SendAsync(HttpMethod.Patch, Routes.Of(Routes.Schedule, scheduleId), Body(request, ClientJson.Context.ScheduleRequest), ClientJson.Context.ScheduleView, ct);

    public Task DeleteScheduleAsync(Guid scheduleId, CancellationToken ct) =>
        SendNoContentAsync(HttpMethod.Delete, Routes.Of(Routes.Schedule, scheduleId), null, ct);

    public Task<ApiResponse<ScheduleView>> SetSchedulePausedAsync(Guid scheduleId, bool paused, CancellationToken ct) =>
        SendAsync(HttpMethod.Post, Routes.Of(paused ? Routes.SchedulePause : Routes.ScheduleResume, scheduleId), null, ClientJson.Context.ScheduleView, ct);

    public Task<ApiResponse<ScheduleTriggerResponse>> TriggerScheduleAsync(Guid scheduleId, CancellationToken ct) =>
        SendAsync(HttpMethod.Post, Routes.Of(Routes.ScheduleTrigger, scheduleId), null, ClientJson.Context.ScheduleTriggerResponse, ct);

    public Task<ApiResponse<ScheduleHistory>> GetScheduleHistoryAsync(Guid scheduleId, int? limit, long? beforeId, CancellationToken ct) =>
        SendAsync(HttpMethod.Get, Routes.Of(Routes.ScheduleHistory, scheduleId) + Query(("limit", Str(limit)), ("before_id", Str(beforeId))),
            null, ClientJson.Context.ScheduleHistory, ct);

    /// <summary>The answer carries the signing secret (<see cref="WebhookView.Secret"/>), which the controller never shows again.</summary>
    public Task<ApiResponse<WebhookView>> CreateWebhookAsync(WebhookRequest request, CancellationToken ct) =>
        SendAsync(HttpMethod.Post, Routes.Webhooks, Body(request, ClientJson.Context.WebhookRequest), ClientJson.Context.WebhookView, ct);

    /// <summary>Every endpoint of the tenant, oldest first (a tenant holds few, so the list is not paged); never a secret.</summary>
    public Task<ApiResponse<WebhookList>> ListWebhooksAsync(CancellationToken ct) =>
        SendAsync(HttpMethod.Get, Routes.Webhooks, null, ClientJson.Context.WebhookList, ct);

    public Task<ApiResponse<WebhookView>> GetWebhookAsync(Guid webhookId, CancellationToken ct) =>
        SendAsync(HttpMethod.Get, Routes.Of(Routes.Webhook, webhookId), null, ClientJson.Context.WebhookView, ct);

    /// <summary>Changes only the fields the request gives; an empty JobIds or JobNames removes that filter.</summary>
    public Task<ApiResponse<WebhookView>> UpdateWebhookAsync(Guid webhookId, WebhookRequest request, CancellationToken ct) =>
        SendAsync(HttpMethod.Patch, Routes.Of(Routes.Webhook, webhookId), Body(request, ClientJson.Context.WebhookRequest), ClientJson.Context.WebhookView, ct);

    /// <summary>Deletes the endpoint with its deliveries, sent or not.</summary>
    public Task DeleteWebhookAsync(Guid webhookId, CancellationToken ct) =>
        SendNoContentAsync(HttpMethod.Delete, Routes.Of(Routes.Webhook, webhookId), null, ct);

    /// <param name="overlapSeconds">How long the old secret goes on signing too; null: the controller's WEBHOOK_SECRET_OVERLAP.</param>
    /// <returns>The endpoint with its new secret, shown this once.</returns>
    public Task<ApiResponse<WebhookView>> RotateWebhookSecretAsync(Guid webhookId, int? overlapSeconds, CancellationToken ct) =>
        SendAsync(HttpMethod.Post, Routes.Of(Routes.WebhookRotateSecret, webhookId),
            // No body at all when nothing is asked: the controller's default then applies, and says so in its own terms.
            overlapSeconds is null ? null : Body(new RotateWebhookSecretRequest { OverlapSeconds = overlapSeconds }, ClientJson.Context.RotateWebhookSecretRequest),
            ClientJson.Context.WebhookView, ct);

    /// <summary>Queues a signed webhook.test event to the endpoint; the answer names the delivery to look for in its log.</summary>
    public Task<ApiResponse<WebhookTestResponse>> TestWebhookAsync(Guid webhookId, CancellationToken ct) =>
        SendAsync(HttpMethod.Post, Routes.Of(Routes.WebhookTest, webhookId), null, ClientJson.Context.WebhookTestResponse, ct);

    /// <param name="before">Only deliveries older than this one: the previous page's <see cref="WebhookDeliveryList.NextBefore"/>.</param>
    public Task<ApiResponse<WebhookDeliveryList>> ListWebhookDeliveriesAsync(Guid webhookId, int? limit, Guid? before, CancellationToken ct) =>
        SendAsync(HttpMethod.Get, Routes.Of(Routes.WebhookDeliveries, webhookId) + Query(("limit", Str(limit)), ("before", before?.ToString())),
            null, ClientJson.Context.WebhookDeliveryList, ct);

    /// <summary>One delivery with every attempt (<see cref="WebhookDeliveryView.AttemptLog"/>).</summary>
    public Task<ApiResponse<WebhookDeliveryView>> GetWebhookDeliveryAsync(Guid webhookId, Guid deliveryId, CancellationToken ct) =>
        SendAsync(HttpMethod.Get, DeliveryPath(Routes.WebhookDelivery, webhookId, deliveryId), null, ClientJson.Context.WebhookDeliveryView, ct);

    /// <summary>Sends a finished delivery again (same webhook-id and body, due now); a 409 ApiException while it is still pending.</summary>
    public Task RedeliverWebhookAsync(Guid webhookId, Guid deliveryId, CancellationToken ct) =>
        SendNoContentAsync(HttpMethod.Post, DeliveryPath(Routes.WebhookRedeliver, webhookId, deliveryId), null, ct);

    /// <summary>Routes.Of fills {id} and {keyId} only; a delivery's routes name it {deliveryId}. A Guid needs no escaping.</summary>
    private static string DeliveryPath(string template, Guid webhookId, Guid deliveryId) =>
        Routes.Of(template, webhookId).Replace("{deliveryId}", deliveryId.ToString(), StringComparison.Ordinal);

    /// <summary>One job definition, its whole command included.</summary>
    public Task<ApiResponse<JobView>> GetJobAsync(Guid jobId, CancellationToken ct) =>
        SendAsync(HttpMethod.Get, Routes.Of(Routes.Job, jobId), null, ClientJson.Context.JobView, ct);

    public Task<ApiResponse<JobList>> ListJobsAsync(int? limit, int? offset, string? cursor, CancellationToken ct) =>
        SendAsync(HttpMethod.Get, Routes.Jobs + Query(("limit", Str(limit)), ("offset", Str(offset)), ("cursor", cursor)), null, ClientJson.Context.JobList, ct);

    /// <summary>
    /// Follows an execution's log as Server-Sent Events until the controller sends <c>event: end</c> and closes.
    /// Errors before the stream opens surface as ApiException/ControllerUnreachableException; a connection that
    /// drops mid-stream surfaces as IOException or HttpRequestException, so the caller can tell the two apart
    /// and resume from the last id it saw.
    /// </summary>
    public async IAsyncEnumerable<LogStreamEvent> FollowLogsAsync(Guid executionId, long afterId, [EnumeratorCancellation] CancellationToken ct)
    {
        using var response = await SendRawAsync(HttpMethod.Get,
            Routes.Of(Routes.ExecutionLogs, executionId) + Query(("follow", "true"), ("after_id", Str(afterId))),
            null, HttpCompletionOption.ResponseHeadersRead, "text/event-stream", ct);
        if (response.Content.Headers.ContentType?.MediaType is not "text/event-stream")
            throw new UnexpectedResponseException(
                $"controller did not answer with an event stream (Content-Type: {response.Content.Headers.ContentType?.MediaType ?? "none"})");

        await using var stream = await response.Content.ReadAsStreamAsync(ct);
        var parser = SseParser.Create(stream, static (_, data) => data.ToArray());
        await foreach (var item in parser.EnumerateAsync(ct))
        {
            if (item.EventType == "end")
            {
                yield return new LogStreamEvent(null, null, Decode(item.Data, ClientJson.Context.LogStreamEnd, "log stream end event").Value);
                yield break;
            }
            if (item.EventType == "reconnect")
            {
                yield return new LogStreamEvent(null, null, null)
                {
                    Reconnect = Decode(item.Data, ClientJson.Context.LogStreamReconnect, "log stream reconnect event").Value,
                };
                yield break;
            }
            if (item.EventType != SseParser.EventTypeDefault)
                continue; // Unknown event kinds are a newer controller's addition: skip, do not fail.
            var decoded = Decode(item.Data, ClientJson.Context.LogEntry, "log stream event");
            yield return new LogStreamEvent(decoded.Value, decoded.Raw, null);
        }
    }
}
