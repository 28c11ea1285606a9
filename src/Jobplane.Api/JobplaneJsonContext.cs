using System.Text.Json;
using System.Text.Json.Serialization;

namespace Jobplane.Api;

/// <summary>
/// Source-generated JSON for every wire type: snake_case names, nulls omitted, unknown fields
/// refused (a typo in a field name is an error, not a silently ignored setting). Strings are read
/// as the UTF-16 they spell, lone surrogates included (<see cref="JsonUtf16StringConverter"/>):
/// each field then decides whether to refuse or clean them. Timestamps must carry an offset
/// (<see cref="Rfc3339JsonConverter"/>).
/// </summary>
[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
    NumberHandling = JsonNumberHandling.Strict,
    ReadCommentHandling = JsonCommentHandling.Disallow,
    Converters = [typeof(JsonUtf16StringConverter), typeof(Rfc3339JsonConverter)])]
[JsonSerializable(typeof(ApiError))]
[JsonSerializable(typeof(ScheduleRequest))]
[JsonSerializable(typeof(ScheduleView))]
[JsonSerializable(typeof(ScheduleList))]
[JsonSerializable(typeof(ScheduleHistory))]
[JsonSerializable(typeof(ScheduleTriggerResponse))]
[JsonSerializable(typeof(WebhookRequest))]
[JsonSerializable(typeof(WebhookView))]
[JsonSerializable(typeof(WebhookList))]
[JsonSerializable(typeof(RotateWebhookSecretRequest))]
[JsonSerializable(typeof(WebhookDeliveryView))]
[JsonSerializable(typeof(WebhookDeliveryList))]
[JsonSerializable(typeof(WebhookTestResponse))]
[JsonSerializable(typeof(TenantRequest))]
[JsonSerializable(typeof(CreateTenantResponse))]
[JsonSerializable(typeof(CreateJobRequest))]
[JsonSerializable(typeof(CreateJobResponse))]
[JsonSerializable(typeof(JobResources))]
[JsonSerializable(typeof(JobView))]
[JsonSerializable(typeof(JobList))]
[JsonSerializable(typeof(RunJobRequest))]
[JsonSerializable(typeof(RunJobResponse))]
[JsonSerializable(typeof(CancelResponse))]
[JsonSerializable(typeof(BulkCancelResponse))]
[JsonSerializable(typeof(DlqBulkRequest))]
[JsonSerializable(typeof(DlqBulkRetryResponse))]
[JsonSerializable(typeof(DlqPurgeResponse))]
[JsonSerializable(typeof(ExecutionView))]
[JsonSerializable(typeof(ExecutionList))]
[JsonSerializable(typeof(IReadOnlyList<AttemptView>))]
[JsonSerializable(typeof(LogEntry))]
[JsonSerializable(typeof(LogPage))]
[JsonSerializable(typeof(LogStreamEnd))]
[JsonSerializable(typeof(LogStreamReconnect))]
[JsonSerializable(typeof(DlqEntry))]
[JsonSerializable(typeof(IReadOnlyList<DlqEntry>))]
[JsonSerializable(typeof(DlqRetryResponse))]
[JsonSerializable(typeof(HealthResponse))]
[JsonSerializable(typeof(DequeueRequest))]
[JsonSerializable(typeof(DequeueResponse))]
[JsonSerializable(typeof(HeartbeatRequest))]
[JsonSerializable(typeof(HeartbeatResponse))]
[JsonSerializable(typeof(WorkerHeartbeatRequest))]
[JsonSerializable(typeof(WorkerHeartbeatResponse))]
[JsonSerializable(typeof(ResultRequest))]
[JsonSerializable(typeof(ResultResponse))]
[JsonSerializable(typeof(ResultBatchRequest))]
[JsonSerializable(typeof(ResultBatchResponse))]
[JsonSerializable(typeof(AppendLogsRequest))]
[JsonSerializable(typeof(AppendLogsResponse))]
[JsonSerializable(typeof(ReleaseRequest))]
[JsonSerializable(typeof(ResumeRequest))]
[JsonSerializable(typeof(ResumeResponse))]
[JsonSerializable(typeof(TenantView))]
[JsonSerializable(typeof(TenantList))]
[JsonSerializable(typeof(CreateApiKeyRequest))]
[JsonSerializable(typeof(ApiKeyView))]
[JsonSerializable(typeof(CreateApiKeyResponse))]
[JsonSerializable(typeof(ApiKeyList))]
[JsonSerializable(typeof(CreateWorkerCredentialRequest))]
[JsonSerializable(typeof(WorkerCredentialView))]
[JsonSerializable(typeof(CreateWorkerCredentialResponse))]
[JsonSerializable(typeof(WorkerCredentialList))]
[JsonSerializable(typeof(AuditEntry))]
[JsonSerializable(typeof(AuditPage))]
[JsonSerializable(typeof(BatchRunRequest))]
[JsonSerializable(typeof(BatchRunResponse))]
[JsonSerializable(typeof(JsonElement))]
public sealed partial class JobplaneJsonContext : JsonSerializerContext;
