using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json.Serialization.Metadata;
using Jobplane.Api;

namespace Jobplane.Client;

/// <summary>
/// The worker API, typed: the only way a worker reaches the platform. Errors are <see cref="ApiException"/>
/// (see its LeaseGone and Transient); every call has its own deadline.
/// </summary>
public sealed class WorkerClient
{
    private static readonly TimeSpan CallTimeout = TimeSpan.FromSeconds(30);
    private readonly HttpClient _http;

    /// <param name="http">Configured here: base address, no client-wide timeout, the worker token.</param>
    /// <param name="userAgent">Sent on every request: the worker's <c>jobplane-worker/&lt;version&gt;</c>, which the controller's worker registry records.</param>
    public WorkerClient(HttpClient http, Uri controllerUrl, string workerToken, ProductInfoHeaderValue? userAgent = null)
    {
        _http = http;
        _http.BaseAddress = controllerUrl;
        _http.Timeout = Timeout.InfiniteTimeSpan; // each call sets its own deadline
        _http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", workerToken);
        if (userAgent is not null) _http.DefaultRequestHeaders.UserAgent.Add(userAgent);
    }

    public async Task<DequeueResponse> DequeueAsync(DequeueRequest request, CancellationToken ct)
    {
        var wait = TimeSpan.FromSeconds(request.WaitSeconds ?? 0);
        return (await SendAsync(HttpMethod.Post, Path(Routes.WorkerDequeue), request,
            JobplaneJsonContext.Default.DequeueRequest, JobplaneJsonContext.Default.DequeueResponse, wait + CallTimeout, ct))!;
    }

    public async Task<WorkerHeartbeatResponse> HeartbeatAsync(WorkerHeartbeatRequest request, CancellationToken ct) =>
        (await SendAsync(HttpMethod.Post, Path(Routes.WorkerHeartbeats), request, JobplaneJsonContext.Default.WorkerHeartbeatRequest,
            JobplaneJsonContext.Default.WorkerHeartbeatResponse, CallTimeout, ct))!;

    /// <summary>Extends one lease (the per-execution form of <see cref="HeartbeatAsync"/>, for a worker that holds few).</summary>
    public async Task<HeartbeatResponse> HeartbeatLeaseAsync(Guid executionId, HeartbeatRequest request, CancellationToken ct) =>
        (await SendAsync(HttpMethod.Put, Path(Routes.Of(Routes.WorkerLeaseHeartbeat, executionId)), request,
            JobplaneJsonContext.Default.HeartbeatRequest, JobplaneJsonContext.Default.HeartbeatResponse, CallTimeout, ct))!;

    /// <summary>Ships a batch of log lines; the answer is null while the execution's log has room, and says so once it is full.</summary>
    public Task<AppendLogsResponse?> AppendLogsAsync(Guid executionId, AppendLogsRequest request, CancellationToken ct) =>
        SendAsync(HttpMethod.Post, Path(Routes.Of(Routes.WorkerLogs, executionId)), request,
            JobplaneJsonContext.Default.AppendLogsRequest, JobplaneJsonContext.Default.AppendLogsResponse, CallTimeout, ct);

    public async Task<ResultResponse> ReportResultAsync(Guid executionId, ResultRequest request, CancellationToken ct) =>
        (await SendAsync(HttpMethod.Put, Path(Routes.Of(Routes.WorkerResult, executionId)), request,
            JobplaneJsonContext.Default.ResultRequest, JobplaneJsonContext.Default.ResultResponse, CallTimeout, ct))!;

    public async Task<ResultBatchResponse> ReportResultsAsync(ResultBatchRequest request, CancellationToken ct) =>
        (await SendAsync(HttpMethod.Post, Path(Routes.WorkerResults), request,
            JobplaneJsonContext.Default.ResultBatchRequest, JobplaneJsonContext.Default.ResultBatchResponse, CallTimeout, ct))!;

    /// <summary>Takes over an attempt this worker's previous life left running (see <see cref="ResumeRequest"/>).</summary>
    public async Task<ResumeResponse> ResumeAsync(Guid executionId, ResumeRequest request, CancellationToken ct) =>
        (await SendAsync(HttpMethod.Post, Path(Routes.Of(Routes.WorkerResume, executionId)), request,
            JobplaneJsonContext.Default.ResumeRequest, JobplaneJsonContext.Default.ResumeResponse, CallTimeout, ct))!;

    public Task ReleaseAsync(Guid executionId, ReleaseRequest request, CancellationToken ct) =>
        SendAsync<ReleaseRequest, ApiError>(HttpMethod.Post, Path(Routes.Of(Routes.WorkerRelease, executionId)), request,
            JobplaneJsonContext.Default.ReleaseRequest, null, CallTimeout, ct);

    private async Task<TResponse?> SendAsync<TRequest, TResponse>(HttpMethod method, string path, TRequest body,
        JsonTypeInfo<TRequest> requestType, JsonTypeInfo<TResponse>? responseType, TimeSpan timeout, CancellationToken ct)
        where TResponse : class
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(ct);
        deadline.CancelAfter(timeout);
        using var request = new HttpRequestMessage(method, path) { Content = JsonContent.Create(body, requestType) };
        using var response = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, deadline.Token);
        if (!response.IsSuccessStatusCode)
        {
            ApiError? error = null;
            try { error = await response.Content.ReadFromJsonAsync(JobplaneJsonContext.Default.ApiError, deadline.Token); }
            catch (System.Text.Json.JsonException) { }
            throw new ApiException(response.StatusCode, error?.Code ?? "http_error", error?.Error ?? response.ReasonPhrase ?? "request failed");
        }
        if (responseType is null || response.StatusCode == HttpStatusCode.NoContent) return null;
        // Once the controller has answered, its answer is read even if the caller is stopping: a
        // dequeue answer names executions that are already claimed for this worker, and dropping it
        // would leave them to wait out their lease (and be charged an attempt) instead of being
        // run or handed back.
        using var readTimeout = new CancellationTokenSource(CallTimeout);
        return await response.Content.ReadFromJsonAsync(responseType, readTimeout.Token);
    }

    /// <summary>Relative to the base address, so that a controller behind a path prefix keeps it.</summary>
    private static string Path(string route) => route.TrimStart('/');
}
