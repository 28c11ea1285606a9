using System.Net.Http.Headers;
using System.Net.ServerSentEvents;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;
using Jobplane.Api;

namespace Jobplane.Cli;

/// <summary>A decoded response together with the JSON exactly as the controller sent it (for -o json).</summary>
internal sealed record ApiResponse<T>(T Value, JsonElement Raw)
{
    /// <summary>The next page's cursor a bare-array list sends in a header (X-Next-Cursor); null otherwise.</summary>
    public string? NextCursor { get; init; }
}

/// <summary>One event of a followed log stream: a log line, the final end marker, or a request to reconnect.</summary>
internal sealed record LogStreamEvent(LogEntry? Entry, JsonElement? RawEntry, LogStreamEnd? End)
{
    /// <summary>The controller ended the stream on its time limit: reconnect and resume after the last id.</summary>
    public LogStreamReconnect? Reconnect { get; init; }
}

/// <summary>Typed calls to the controller's public API. Owns no connection state beyond the HttpClient given.</summary>
internal sealed class ControllerApi
{
    /// <summary>Bound on one request/response exchange (not on a followed stream, which may last hours).</summary>
    public static readonly TimeSpan RequestTimeout = TimeSpan.FromSeconds(60);

    private readonly HttpClient http;
    private readonly string? token;

    public ControllerApi(HttpClient http, Uri baseUrl, string? token = null)
    {
        this.http = http;
        this.token = token;
        // A trailing slash makes relative paths append to a prefix (https://host/jobplane/) instead of replacing it.
        BaseUrl = baseUrl.AbsoluteUri.EndsWith('/') ? baseUrl : new Uri(baseUrl.AbsoluteUri + "/");
    }

    public Uri BaseUrl { get; }

    public Task<ApiResponse<CreateTenantResponse>> CreateTenantAsync(TenantRequest request, CancellationToken ct) =>
        SendAsync(HttpMethod.Post, "tenants", Body(request, WireJson.Context.TenantRequest), WireJson.Context.CreateTenantResponse, ct);

    public Task UpdateTenantAsync(Guid tenantId, TenantRequest request, CancellationToken ct) =>
        SendNoContentAsync(HttpMethod.Patch, $"tenants/{tenantId}", Body(request, WireJson.Context.TenantRequest), ct);

    public Task<ApiResponse<TenantList>> ListTenantsAsync(int? limit, int? offset, string? cursor, CancellationToken ct) =>
        SendAsync(HttpMethod.Get, "tenants" + Query(("limit", Str(limit)), ("offset", Str(offset)), ("cursor", cursor)), null, WireJson.Context.TenantList, ct);

    public Task<ApiResponse<TenantView>> GetTenantAsync(Guid tenantId, CancellationToken ct) =>
        SendAsync(HttpMethod.Get, $"tenants/{tenantId}", null, WireJson.Context.TenantView, ct);

    public Task<ApiResponse<TenantView>> SetTenantSuspendedAsync(Guid tenantId, bool suspended, CancellationToken ct) =>
        SendAsync(HttpMethod.Post, $"tenants/{tenantId}/{(suspended ? "suspend" : "resume")}", null, WireJson.Context.TenantView, ct);

    /// <param name="tenantId">The tenant whose key to create (administrator); null: the caller's own tenant.</param>
    public Task<ApiResponse<CreateApiKeyResponse>> CreateApiKeyAsync(Guid? tenantId, string? name, CancellationToken ct, long? expiresInSeconds = null) =>
        SendAsync(HttpMethod.Post, KeysPath(tenantId),
            Body(new CreateApiKeyRequest { Name = name, ExpiresIn = expiresInSeconds }, WireJson.Context.CreateApiKeyRequest),
            WireJson.Context.CreateApiKeyResponse, ct);

    public Task<ApiResponse<ApiKeyList>> ListApiKeysAsync(Guid? tenantId, int? limit, string? cursor, CancellationToken ct) =>
        SendAsync(HttpMethod.Get, KeysPath(tenantId) + Query(("limit", Str(limit)), ("cursor", cursor)), null, WireJson.Context.ApiKeyList, ct);

    public Task RevokeApiKeyAsync(Guid? tenantId, Guid keyId, CancellationToken ct) =>
        SendNoContentAsync(HttpMethod.Delete, $"{KeysPath(tenantId)}/{keyId}", null, ct);

    private static string KeysPath(Guid? tenantId) => tenantId is { } id ? $"tenants/{id}/api-keys" : "api-keys";

    public Task<ApiResponse<CreateWorkerCredentialResponse>> CreateWorkerCredentialAsync(CreateWorkerCredentialRequest request, CancellationToken ct) =>
        SendAsync(HttpMethod.Post, "worker-credentials", Body(request, WireJson.Context.CreateWorkerCredentialRequest),
            WireJson.Context.CreateWorkerCredentialResponse, ct);

    public Task<ApiResponse<WorkerCredentialList>> ListWorkerCredentialsAsync(int? limit, string? cursor, CancellationToken ct) =>
        SendAsync(HttpMethod.Get, "worker-credentials" + Query(("limit", Str(limit)), ("cursor", cursor)), null, WireJson.Context.WorkerCredentialList, ct);

    public Task RevokeWorkerCredentialAsync(Guid credentialId, CancellationToken ct) =>
        SendNoContentAsync(HttpMethod.Delete, $"worker-credentials/{credentialId}", null, ct);

    public Task<ApiResponse<AuditPage>> ListAuditAsync(Guid? tenantId, long? beforeId, int? limit, CancellationToken ct) =>
        SendAsync(HttpMethod.Get, "audit" + Query(("tenant_id", tenantId?.ToString()), ("before_id", Str(beforeId)), ("limit", Str(limit))),
            null, WireJson.Context.AuditPage, ct);

    public Task<ApiResponse<CreateJobResponse>> CreateJobAsync(CreateJobRequest request, CancellationToken ct) =>
        SendAsync(HttpMethod.Post, "jobs", Body(request, WireJson.Context.CreateJobRequest), WireJson.Context.CreateJobResponse, ct);

    /// <param name="idempotencyKey">Sent as the Idempotency-Key header, exactly as given; null sends none.</param>
    public Task<ApiResponse<RunJobResponse>> RunJobAsync(Guid jobId, RunJobRequest request, string? idempotencyKey, CancellationToken ct) =>
        SendAsync(HttpMethod.Post, $"jobs/{jobId}/run", Body(request, WireJson.Context.RunJobRequest), WireJson.Context.RunJobResponse, ct,
            idempotencyKey is null ? null : [new(Wire.IdempotencyKeyHeader, idempotencyKey)]);

    /// <summary>Many executions of one job in one request (no Idempotency-Key: the controller refuses it here).</summary>
    public Task<ApiResponse<BatchRunResponse>> RunJobManyAsync(Guid jobId, BatchRunRequest request, CancellationToken ct) =>
        SendAsync(HttpMethod.Post, $"jobs/{jobId}/runs", Body(request, WireJson.Context.BatchRunRequest), WireJson.Context.BatchRunResponse, ct);

    public Task<ApiResponse<BulkCancelResponse>> CancelJobAsync(Guid jobId, CancellationToken ct) =>
        SendAsync(HttpMethod.Post, $"jobs/{jobId}/cancel", null, WireJson.Context.BulkCancelResponse, ct);

    public Task<ApiResponse<CancelResponse>> CancelExecutionAsync(Guid executionId, CancellationToken ct) =>
        SendAsync(HttpMethod.Post, $"executions/{executionId}/cancel", null, WireJson.Context.CancelResponse, ct);

    public Task<ApiResponse<IReadOnlyList<AttemptView>>> GetAttemptsAsync(Guid executionId, CancellationToken ct) =>
        SendAsync(HttpMethod.Get, $"executions/{executionId}/attempts", null, WireJson.Context.IReadOnlyListAttemptView, ct);

    public Task<ApiResponse<ExecutionView>> GetExecutionAsync(Guid executionId, CancellationToken ct) =>
        SendAsync(HttpMethod.Get, $"executions/{executionId}", null, WireJson.Context.ExecutionView, ct);

    public Task<ApiResponse<ExecutionList>> ListExecutionsAsync(string? status, Guid? jobId, int? limit, int? offset, string? cursor, CancellationToken ct) =>
        SendAsync(HttpMethod.Get, "executions" + Query(("status", status), ("job_id", jobId?.ToString()), ("limit", Str(limit)), ("offset", Str(offset)), ("cursor", cursor)),
            null, WireJson.Context.ExecutionList, ct);

    public Task<ApiResponse<LogPage>> GetLogsAsync(Guid executionId, long afterId, int limit, CancellationToken ct) =>
        SendAsync(HttpMethod.Get, $"executions/{executionId}/logs" + Query(("after_id", Str(afterId)), ("limit", Str(limit))),
            null, WireJson.Context.LogPage, ct);

    public Task<ApiResponse<IReadOnlyList<DlqEntry>>> ListDlqAsync(int? limit, int? offset, string? cursor, CancellationToken ct) =>
        SendAsync(HttpMethod.Get, "executions/dlq" + Query(("limit", Str(limit)), ("offset", Str(offset)), ("cursor", cursor)),
            null, WireJson.Context.IReadOnlyListDlqEntry, ct);

    public Task<ApiResponse<DlqRetryResponse>> RetryDlqAsync(Guid id, CancellationToken ct) =>
        SendAsync(HttpMethod.Post, $"executions/dlq/{id}/retry", null, WireJson.Context.DlqRetryResponse, ct);

    public Task<ApiResponse<DlqBulkRetryResponse>> RetryAllDlqAsync(Guid? jobId, CancellationToken ct) =>
        SendAsync(HttpMethod.Post, "executions/dlq/retry", Body(new DlqBulkRequest { JobId = jobId }, WireJson.Context.DlqBulkRequest),
            WireJson.Context.DlqBulkRetryResponse, ct);

    public Task<ApiResponse<DlqPurgeResponse>> PurgeDlqAsync(Guid? jobId, CancellationToken ct) =>
        SendAsync(HttpMethod.Post, "executions/dlq/purge", Body(new DlqBulkRequest { JobId = jobId }, WireJson.Context.DlqBulkRequest),
            WireJson.Context.DlqPurgeResponse, ct);

    public Task<ApiResponse<JobList>> ListJobsAsync(int? limit, int? offset, string? cursor, CancellationToken ct) =>
        SendAsync(HttpMethod.Get, "jobs" + Query(("limit", Str(limit)), ("offset", Str(offset)), ("cursor", cursor)), null, WireJson.Context.JobList, ct);

    /// <summary>
    /// Follows an execution's log as Server-Sent Events until the controller sends <c>event: end</c> and closes.
    /// Errors before the stream opens surface as ApiException/ControllerUnreachableException; a connection that
    /// drops mid-stream surfaces as IOException or HttpRequestException, so the caller can tell the two apart
    /// and resume from the last id it saw.
    /// </summary>
    public async IAsyncEnumerable<LogStreamEvent> FollowLogsAsync(Guid executionId, long afterId, [EnumeratorCancellation] CancellationToken ct)
    {
        using var response = await SendRawAsync(HttpMethod.Get,
            $"executions/{executionId}/logs" + Query(("follow", "true"), ("after_id", Str(afterId))),
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
                yield return new LogStreamEvent(null, null, Decode(item.Data, WireJson.Context.LogStreamEnd, "log stream end event").Value);
                yield break;
            }
            if (item.EventType == "reconnect")
            {
                yield return new LogStreamEvent(null, null, null)
                {
                    Reconnect = Decode(item.Data, WireJson.Context.LogStreamReconnect, "log stream reconnect event").Value,
                };
                yield break;
            }
            if (item.EventType != SseParser.EventTypeDefault)
                continue; // Unknown event kinds are a newer controller's addition: skip, do not fail.
            var decoded = Decode(item.Data, WireJson.Context.LogEntry, "log stream event");
            yield return new LogStreamEvent(decoded.Value, decoded.Raw, null);
        }
    }

    private async Task<ApiResponse<T>> SendAsync<T>(HttpMethod method, string path, HttpContent? content, JsonTypeInfo<T> type, CancellationToken ct,
        IReadOnlyList<KeyValuePair<string, string>>? headers = null)
    {
        using var response = await SendRawAsync(method, path, content, HttpCompletionOption.ResponseContentRead, null, ct, headers);
        var bytes = await response.Content.ReadAsByteArrayAsync(ct);
        var next = response.Headers.TryGetValues(Wire.NextCursorHeader, out var values) ? values.FirstOrDefault() : null;
        return Decode(bytes, type, $"{method} /{path}") with { NextCursor = next };
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
        using var request = new HttpRequestMessage(method, new Uri(BaseUrl, path)) { Content = content };
        // Callers validate these values; without validation they go out byte for byte, never reformatted.
        foreach (var (name, value) in headers ?? [])
            request.Headers.TryAddWithoutValidation(name, value);
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue(accept ?? "application/json"));
        request.Headers.UserAgent.Add(new ProductInfoHeaderValue("jobctl", typeof(ControllerApi).Assembly.GetName().Version?.ToString(3)));
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
                var error = JsonSerializer.Deserialize(body, WireJson.Context.ApiError);
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

/// <summary>
/// The shared wire context, but tolerant of fields this jobctl does not know: a client must keep
/// working against a newer controller that adds response fields (the server side stays strict).
/// </summary>
internal static class WireJson
{
    public static readonly JobplaneJsonContext Context = new(new JsonSerializerOptions(JobplaneJsonContext.Default.Options)
    {
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Skip,
    });
}
