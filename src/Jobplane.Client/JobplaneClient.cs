using System.Net.Http.Headers;
using System.Net.ServerSentEvents;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;
using Jobplane.Api;

namespace Jobplane.Client;

/// <summary>
/// Typed calls to the controller's tenant and administrator API (jobctl's, and any other program's).
/// Owns no connection state beyond the HttpClient given; every path comes from <see cref="Routes"/>.
/// </summary>
public sealed class JobplaneClient
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
    public Task<ApiResponse<CreateApiKeyResponse>> CreateApiKeyAsync(Guid? tenantId, string? name, CancellationToken ct, long? expiresInSeconds = null) =>
        SendAsync(HttpMethod.Post, KeysPath(tenantId),
            Body(new CreateApiKeyRequest { Name = name, ExpiresIn = expiresInSeconds }, ClientJson.Context.CreateApiKeyRequest),
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

    private async Task<ApiResponse<T>> SendAsync<T>(HttpMethod method, string path, HttpContent? content, JsonTypeInfo<T> type, CancellationToken ct,
        IReadOnlyList<KeyValuePair<string, string>>? headers = null)
    {
        using var response = await SendRawAsync(method, path, content, HttpCompletionOption.ResponseContentRead, null, ct, headers);
        var bytes = await response.Content.ReadAsByteArrayAsync(ct);
        var next = response.Headers.TryGetValues(Wire.NextCursorHeader, out var values) ? values.FirstOrDefault() : null;
        return Decode(bytes, type, $"{method} {path}") with { NextCursor = next };
    }

    /// <summary>For answers without a body (204): success is all there is to know.</summary>
    private async Task SendNoContentAsync(HttpMethod method, string path, HttpContent? content, CancellationToken ct)
    {
        using var response = await SendRawAsync(method, path, content, HttpCompletionOption.ResponseContentRead, null, ct);
    }

    /// <summary>Sends one request; returns only 2xx responses, maps everything else to a jobctl exception.</summary>
    private async Task<HttpResponseMessage> SendRawAsync(HttpMethod method, string path, HttpContent? content,
        HttpCompletionOption completion, string? accept, CancellationToken ct, IReadOnlyList<KeyValuePair<string, string>>? headers = null)
    {
        using var request = new HttpRequestMessage(method, new Uri(BaseUrl, path.TrimStart('/'))) { Content = content };
        // Callers validate these values; without validation they go out byte for byte, never reformatted.
        foreach (var (name, value) in headers ?? [])
            request.Headers.TryAddWithoutValidation(name, value);
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue(accept ?? "application/json"));
        request.Headers.UserAgent.Add(userAgent);
        if (token is not null)
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);

        // The timeout covers sending and (for buffered calls) reading the body; for a stream it covers
        // only the headers, and is disposed (not cancelled) before the caller starts reading.
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(RequestTimeout);
        HttpResponseMessage response;
        try
        {
            response = await http.SendAsync(request, completion, timeout.Token);
        }
        catch (HttpRequestException e)
        {
            throw new ControllerUnreachableException(BaseUrl, Reason(e), e);
        }
        catch (OperationCanceledException e) when (!ct.IsCancellationRequested)
        {
            throw new ControllerUnreachableException(BaseUrl, $"no answer within {RequestTimeout.TotalSeconds:0} s", e);
        }

        if (response.IsSuccessStatusCode)
            return response;
        using (response)
            throw await ErrorFromAsync(response, ct);
    }

    private static async Task<ApiException> ErrorFromAsync(HttpResponseMessage response, CancellationToken ct)
    {
        string body;
        try
        {
            body = await response.Content.ReadAsStringAsync(ct);
        }
        catch (Exception e) when (e is HttpRequestException or IOException)
        {
            body = "";
        }
        var mediaType = response.Content.Headers.ContentType?.MediaType;
        if (body.Length > 0 && mediaType is not null && mediaType.Contains("json", StringComparison.OrdinalIgnoreCase))
        {
            try
            {
                var error = JsonSerializer.Deserialize(body, ClientJson.Context.ApiError);
                if (error?.Error is not null)
                    return new ApiException(response.StatusCode, response.ReasonPhrase, error.Error, error.Code, null, RetryAfter(response));
            }
            catch (JsonException)
            {
                // Not our error shape: fall through to the status line.
            }
        }
        var text = mediaType is "text/plain" ? body : null;
        return new ApiException(response.StatusCode, response.ReasonPhrase, null, null, text, RetryAfter(response));
    }

    /// <summary>Retry-After as seconds or as an HTTP date (RFC 9110); a date in the past means "now".</summary>
    private static TimeSpan? RetryAfter(HttpResponseMessage response) => response.Headers.RetryAfter switch
    {
        { Delta: { } delta } => delta,
        { Date: { } date } => date - TimeProvider.System.GetUtcNow() is var wait && wait > TimeSpan.Zero ? wait : TimeSpan.Zero,
        _ => null,
    };

    private static ApiResponse<T> Decode<T>(ReadOnlySpan<byte> bytes, JsonTypeInfo<T> type, string what)
    {
        try
        {
            using var document = JsonDocument.Parse(bytes.ToArray());
            var value = document.RootElement.Deserialize(type)
                ?? throw new UnexpectedResponseException($"unexpected response from controller ({what}): null body");
            return new ApiResponse<T>(value, document.RootElement.Clone());
        }
        catch (JsonException e)
        {
            throw new UnexpectedResponseException($"unexpected response from controller ({what}): {e.Message}", e);
        }
    }

    private static ByteArrayContent Body<T>(T value, JsonTypeInfo<T> type)
    {
        var content = new ByteArrayContent(JsonSerializer.SerializeToUtf8Bytes(value, type));
        content.Headers.ContentType = new MediaTypeHeaderValue("application/json") { CharSet = "utf-8" };
        return content;
    }

    private static string Query(params (string Name, string? Value)[] parameters)
    {
        var builder = new StringBuilder();
        foreach (var (name, value) in parameters)
        {
            if (value is null) continue;
            builder.Append(builder.Length == 0 ? '?' : '&').Append(name).Append('=').Append(Uri.EscapeDataString(value));
        }
        return builder.ToString();
    }

    private static string? Str(long? value) => value?.ToString(System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>The most specific human reason: "Connection refused" rather than a wrapper's generic text.</summary>
    private static string Reason(HttpRequestException e)
    {
        for (Exception? inner = e; inner is not null; inner = inner.InnerException)
        {
            if (inner is SocketException socket)
                return socket.Message;
        }
        return e.InnerException is { } cause ? $"{e.Message} ({cause.Message})" : e.Message;
    }
}
