using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;
using Jobplane.Api;

namespace Jobplane.Faults;

/// <summary>How one POST /jobs/{id}/run ended, from the client's side.</summary>
public enum RunAnswer
{
    /// <summary>201 with an execution id (or 200: a replay of the same Idempotency-Key): the execution exists.</summary>
    Acknowledged,
    /// <summary>429: the controller answered "not now"; nothing was created, and retrying is right.</summary>
    NotNow,
    /// <summary>Any other 4xx: the controller refused it; nothing was created, and retrying will not help.</summary>
    Refused,
    /// <summary>
    /// No definite answer (a 5xx, a reset, a timeout, even "connection refused"): the execution may or
    /// may not exist. Connection refused is no proof: when a reused connection dies before any
    /// response, SocketsHttpHandler resends the request on a new one, so the first send may have
    /// reached a controller that committed the execution and was killed before it could answer.
    /// </summary>
    InDoubt,
}

public sealed record RunResult(RunAnswer Answer, Guid? ExecutionId, bool Replayed, string Detail);

/// <summary>The public and administrator routes the suite uses, with the shared wire records.</summary>
public sealed class PublicApi : IDisposable
{
    // Replies are read tolerantly: the binaries under test may be newer than the contracts this
    // program was compiled with, and a field we do not know must not turn an acknowledgement into
    // a failure (which would make us retry and create an execution nobody asked for).
    private static readonly JsonSerializerOptions ReadOptions = new(JobplaneJsonContext.Default.Options)
    {
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Skip,
    };

    private readonly HttpClient _http = new(new SocketsHttpHandler
    {
        ConnectTimeout = TimeSpan.FromSeconds(3),
        // A restarted controller leaves dead pooled connections behind; keep them short-lived.
        PooledConnectionIdleTimeout = TimeSpan.FromSeconds(2),
    })
    {
        Timeout = TimeSpan.FromSeconds(15),
    };

    public async Task<string> CreateTenantAsync(string url, string name, CancellationToken ct)
    {
        using var request = Post(url, Routes.Tenants, Platform.AdminSecret,
            JsonContent.Create(new TenantRequest { Name = name }, JobplaneJsonContext.Default.TenantRequest));
        var created = await SendAsync(request, Read<CreateTenantResponse>(), ct);
        return created.ApiKey;
    }

    public async Task<Guid> CreateJobAsync(string url, string apiKey, CreateJobRequest job, CancellationToken ct)
    {
        using var request = Post(url, Routes.Jobs, apiKey, JsonContent.Create(job, JobplaneJsonContext.Default.CreateJobRequest));
        return (await SendAsync(request, Read<CreateJobResponse>(), ct)).JobId;
    }

    /// <summary>
    /// Runs the job once. The Idempotency-Key is the same on every retry of one logical submission:
    /// a controller that honours it answers a retry with the first execution; one that does not
    /// ignores the header, and the in-doubt bookkeeping of the submitter accounts for the difference.
    /// </summary>
    public async Task<RunResult> RunAsync(string url, string apiKey, Guid jobId, string idempotencyKey, CancellationToken ct)
    {
        using var request = Post(url, Routes.Of(Routes.JobRun, jobId), apiKey, null);
        request.Headers.Add(Wire.IdempotencyKeyHeader, idempotencyKey);
        try
        {
            using var response = await _http.SendAsync(request, ct);
            var body = await response.Content.ReadAsStringAsync(ct);
            // 201: created now; 200: a controller that honours Idempotency-Key replays the execution
            // an earlier try of this submission created (whose answer we never got).
            if (response.StatusCode is HttpStatusCode.Created or HttpStatusCode.OK)
            {
                var run = JsonSerializer.Deserialize(body, Read<RunJobResponse>())!;
                // Read by name, not through the record: "replayed" only exists where idempotency does.
                using var doc = JsonDocument.Parse(body);
                var replayed = doc.RootElement.TryGetProperty("replayed", out var r) && r.ValueKind == JsonValueKind.True;
                return new RunResult(RunAnswer.Acknowledged, run.ExecutionId, replayed, ((int)response.StatusCode).ToString(CultureInfo.InvariantCulture));
            }
            var status = (int)response.StatusCode;
            if (status == 429) return new RunResult(RunAnswer.NotNow, null, false, "429");
            return status is >= 400 and < 500
                ? new RunResult(RunAnswer.Refused, null, false, $"{status} {body}")
                : new RunResult(RunAnswer.InDoubt, null, false, $"HTTP {status}");
        }
        catch (HttpRequestException e) when (e.InnerException is SocketException { SocketErrorCode: SocketError.ConnectionRefused })
        {
            return new RunResult(RunAnswer.InDoubt, null, false, "connection refused");
        }
        catch (Exception e) when (e is HttpRequestException or IOException or JsonException
                                  || (e is TaskCanceledException && !ct.IsCancellationRequested))
        {
            return new RunResult(RunAnswer.InDoubt, null, false, e.GetType().Name + ": " + e.Message);
        }
    }

    public void Dispose() => _http.Dispose();

    private static JsonTypeInfo<T> Read<T>() => (JsonTypeInfo<T>)ReadOptions.GetTypeInfo(typeof(T));

    private static HttpRequestMessage Post(string url, string path, string token, HttpContent? content)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, new Uri(url + path)) { Content = content };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        return request;
    }

    private async Task<T> SendAsync<T>(HttpRequestMessage request, JsonTypeInfo<T> type, CancellationToken ct)
    {
        using var response = await _http.SendAsync(request, ct);
        var body = await response.Content.ReadAsStringAsync(ct);
        if (!response.IsSuccessStatusCode)
            throw new InvalidOperationException($"{request.Method} {request.RequestUri} answered {(int)response.StatusCode}: {body}");
        return JsonSerializer.Deserialize(body, type)!;
    }
}
