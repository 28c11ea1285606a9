namespace Jobplane.Api;

/// <summary>
/// Every route of the HTTP API, written once: the controller maps these templates and every client
/// (jobctl, the worker, the tests) fills them. Templates name their parameters as the controller
/// binds them; the <c>...Of</c> helpers fill a template with escaped values.
/// </summary>
public static class Routes
{
    // Public, unauthenticated.
    public const string Healthz = "/healthz";
    public const string Readyz = "/readyz";
    public const string Metrics = "/metrics";
    public const string OpenApi = "/openapi.json";

    // Tenant API key.
    public const string Jobs = "/jobs";
    public const string Job = "/jobs/{id}";
    public const string JobRun = "/jobs/{id}/run";
    public const string JobRuns = "/jobs/{id}/runs";
    public const string JobCancel = "/jobs/{id}/cancel";

    public const string Executions = "/executions";
    public const string Execution = "/executions/{id}";
    public const string ExecutionAttempts = "/executions/{id}/attempts";
    public const string ExecutionLogs = "/executions/{id}/logs";
    public const string ExecutionCancel = "/executions/{id}/cancel";
    public const string DeadLetters = "/executions/dlq";
    public const string DeadLetterRetry = "/executions/dlq/{id}/retry";
    public const string DeadLettersRetry = "/executions/dlq/retry";
    public const string DeadLettersPurge = "/executions/dlq/purge";

    public const string Schedules = "/schedules";
    public const string Schedule = "/schedules/{id}";
    public const string SchedulePause = "/schedules/{id}/pause";
    public const string ScheduleResume = "/schedules/{id}/resume";
    public const string ScheduleTrigger = "/schedules/{id}/trigger";
    public const string ScheduleHistory = "/schedules/{id}/history";
    public const string Webhooks = "/webhooks";
    public const string Webhook = "/webhooks/{id}";
    public const string WebhookRotateSecret = "/webhooks/{id}/rotate-secret";
    public const string WebhookTest = "/webhooks/{id}/test";
    public const string WebhookDeliveries = "/webhooks/{id}/deliveries";
    public const string WebhookDelivery = "/webhooks/{id}/deliveries/{deliveryId}";
    public const string WebhookRedeliver = "/webhooks/{id}/deliveries/{deliveryId}/redeliver";

    public const string ApiKeys = "/api-keys";
    public const string ApiKey = "/api-keys/{id}";

    // Administrator secret.
    public const string Tenants = "/tenants";
    public const string Tenant = "/tenants/{id}";
    public const string TenantSuspend = "/tenants/{id}/suspend";
    public const string TenantResume = "/tenants/{id}/resume";
    public const string TenantApiKeys = "/tenants/{id}/api-keys";
    public const string TenantApiKey = "/tenants/{id}/api-keys/{keyId}";
    public const string WorkerCredentials = "/worker-credentials";
    public const string WorkerCredential = "/worker-credentials/{id}";
    public const string Audit = "/audit";

    // Worker credential.
    public const string WorkerDequeue = "/internal/executions/dequeue";
    public const string WorkerHeartbeats = "/internal/heartbeats";
    public const string WorkerLeaseHeartbeat = "/internal/executions/{id}/heartbeat";
    public const string WorkerResume = "/internal/executions/{id}/resume";
    public const string WorkerLogs = "/internal/executions/{id}/logs";
    public const string WorkerResult = "/internal/executions/{id}/result";
    public const string WorkerResults = "/internal/results";
    public const string WorkerRelease = "/internal/executions/{id}/release";

    /// <summary>A template with <c>{id}</c> filled in, escaped.</summary>
    public static string Of(string template, string id) =>
        template.Replace("{id}", Uri.EscapeDataString(id), StringComparison.Ordinal);

    /// <summary>A template with <c>{id}</c> filled in.</summary>
    public static string Of(string template, Guid id) => Of(template, id.ToString());

    /// <summary>A template with <c>{id}</c> and <c>{keyId}</c> filled in, escaped.</summary>
    public static string Of(string template, string id, string keyId) =>
        Of(template, id).Replace("{keyId}", Uri.EscapeDataString(keyId), StringComparison.Ordinal);
}
