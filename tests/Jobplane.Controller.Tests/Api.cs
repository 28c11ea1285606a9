using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Jobplane.Api;
using Jobplane.Testing;

namespace Jobplane.Controller.Tests;

/// <summary>Small HTTP helpers over the wire records (snake_case through JobplaneJsonContext).</summary>
internal static class Api
{
    public static JobplaneJsonContext Json => JobplaneJsonContext.Default;

    public static StringContent RawJson(string json) => new(json, Encoding.UTF8, "application/json");

    public static HttpRequestMessage Request(HttpMethod method, string path, string? jsonBody = null) =>
        new(method, path) { Content = jsonBody is null ? null : RawJson(jsonBody) };

    public static async Task<T> ReadAsync<T>(HttpResponseMessage response, JsonTypeInfo<T> type, HttpStatusCode expected = HttpStatusCode.OK)
    {
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == expected,
            $"{response.RequestMessage?.Method} {response.RequestMessage?.RequestUri?.PathAndQuery}: expected {(int)expected}, got {(int)response.StatusCode}: {text}");
        return JsonSerializer.Deserialize(text, type)!;
    }

    /// <summary>Asserts the status and a JSON {error, code} body; returns the error.</summary>
    public static async Task<ApiError> AssertErrorAsync(HttpResponseMessage response, HttpStatusCode status, string? code = null)
    {
        var text = await response.Content.ReadAsStringAsync();
        var what = $"{response.RequestMessage?.Method} {response.RequestMessage?.RequestUri?.PathAndQuery}";
        Assert.True(response.StatusCode == status, $"{what}: expected {(int)status}, got {(int)response.StatusCode}: {text}");
        Assert.True(response.Content.Headers.ContentType?.MediaType == "application/json",
            $"{what}: error content type was '{response.Content.Headers.ContentType}': {text}");
        ApiError? error;
        try
        {
            error = JsonSerializer.Deserialize(text, Json.ApiError);
        }
        catch (JsonException e)
        {
            throw new Xunit.Sdk.XunitException($"{what}: error body is not {{error, code}}: {text} ({e.Message})");
        }
        Assert.NotNull(error);
        Assert.False(string.IsNullOrWhiteSpace(error.Error), $"{what}: empty error message: {text}");
        if (code is not null) Assert.True(error.Code == code, $"{what}: expected code '{code}', got '{error.Code}': {text}");
        return error;
    }

    /// <param name="extra">More raw JSON fields for the body, e.g. <c>"retry_backoff_base": 5</c>.</param>
    /// <summary>Runs a statement on the controller's database, to set up what the API cannot (an old key, an expired lease).</summary>
    public static async Task ExecSqlAsync(ControllerHost host, string sql, params object[] args)
    {
        await using var cmd = host.Database.DataSource.CreateCommand(sql);
        foreach (var a in args) cmd.Parameters.Add(new Npgsql.NpgsqlParameter { Value = a });
        await cmd.ExecuteNonQueryAsync();
    }

    public static async Task<Guid> CreateJobAsync(HttpClient tenant, string? name = null, int? maxAttempts = null,
        string? priority = null, string[]? command = null, string? extra = null)
    {
        var fields = new List<string>
        {
            $"\"name\": \"{name ?? $"job-{Guid.NewGuid():N}"}\"",
            "\"image\": \"exec\"",
            $"\"command\": {JsonSerializer.Serialize(command ?? ["echo", "hello"])}",
            "\"default_timeout\": 60",
        };
        if (maxAttempts is not null) fields.Add($"\"max_attempts\": {maxAttempts}");
        if (priority is not null) fields.Add($"\"priority\": {priority}");
        if (extra is not null) fields.Add(extra);
        var response = await tenant.PostAsync(Routes.Jobs, RawJson("{" + string.Join(", ", fields) + "}"));
        return (await ReadAsync(response, Json.CreateJobResponse, HttpStatusCode.Created)).JobId;
    }

    public static async Task<RunJobResponse> RunAsync(HttpClient tenant, Guid jobId, string? body = null)
    {
        var response = await tenant.PostAsync(Routes.Of(Routes.JobRun, jobId), body is null ? null : RawJson(body));
        return await ReadAsync(response, Json.RunJobResponse, HttpStatusCode.Created);
    }

    /// <summary>POST /jobs/{id}/run with an Idempotency-Key header; the caller checks the status.</summary>
    public static async Task<HttpResponseMessage> RunWithKeyAsync(HttpClient tenant, Guid jobId, string key, string? body = null)
    {
        using var request = Request(HttpMethod.Post, Routes.Of(Routes.JobRun, jobId), body);
        Assert.True(request.Headers.TryAddWithoutValidation(Wire.IdempotencyKeyHeader, key));
        return await tenant.SendAsync(request);
    }

    /// <summary>POST /executions/{id}/cancel, expecting 200.</summary>
    public static async Task<CancelResponse> CancelAsync(HttpClient tenant, Guid executionId) =>
        await ReadAsync(await tenant.PostAsync(Routes.Of(Routes.ExecutionCancel, executionId), null), Json.CancelResponse);

    public static async Task<ExecutionView> GetExecutionAsync(HttpClient tenant, Guid executionId) =>
        await ReadAsync(await tenant.GetAsync(Routes.Of(Routes.Execution, executionId)), Json.ExecutionView);

    public static async Task<IReadOnlyList<ClaimedExecution>> DequeueAsync(HttpClient worker, Guid tenantId, int limit = 1, double waitSeconds = 0)
    {
        var request = new DequeueRequest { Limit = limit, TenantIds = [tenantId], WorkerId = "test-worker", WaitSeconds = waitSeconds };
        var response = await worker.PostAsJsonAsync(Routes.WorkerDequeue, request, Json.DequeueRequest);
        return (await ReadAsync(response, Json.DequeueResponse)).Executions;
    }

    /// <summary>Claims exactly the given execution for the tenant (waiting for it to become ready).</summary>
    /// <summary>Claims one execution of the tenant and returns it as the worker receives it (raw JSON), waiting until one is claimable.</summary>
    public static async Task<JsonElement> DequeueRawAsync(HttpClient worker, Guid tenantId)
    {
        for (var i = 0; i < 20; i++)
        {
            var response = await worker.PostAsJsonAsync(Routes.WorkerDequeue,
                new DequeueRequest { Limit = 1, TenantIds = [tenantId], WorkerId = "test-worker", WaitSeconds = 5 }, Json.DequeueRequest);
            var text = await response.Content.ReadAsStringAsync();
            Assert.True(response.StatusCode == HttpStatusCode.OK, text);
            var executions = JsonDocument.Parse(text).RootElement.GetProperty("executions");
            if (executions.GetArrayLength() > 0) return Assert.Single(executions.EnumerateArray());
        }
        throw new Xunit.Sdk.XunitException("nothing became claimable");
    }

    public static async Task<ClaimedExecution> ClaimAsync(HttpClient worker, Guid tenantId, Guid executionId)
    {
        for (var i = 0; i < 20; i++)
        {
            var claimed = await DequeueAsync(worker, tenantId, waitSeconds: 5);
            if (claimed.Count == 0) continue;
            var only = Assert.Single(claimed);
            Assert.Equal(executionId, only.ExecutionId);
            return only;
        }
        throw new Xunit.Sdk.XunitException($"execution {executionId} never became claimable");
    }

    public static async Task<HttpResponseMessage> ReportAsync(HttpClient worker, Guid executionId, string body) =>
        await worker.PutAsync(Routes.Of(Routes.WorkerResult, executionId), RawJson(body));

    public static async Task<string> ResultAsync(HttpClient worker, Guid executionId, Guid leaseToken, int exitCode, string? extra = null)
    {
        var body = $"{{\"lease_token\": \"{leaseToken}\", \"exit_code\": {exitCode}{(extra is null ? "" : ", " + extra)}}}";
        var response = await ReportAsync(worker, executionId, body);
        return (await ReadAsync(response, Json.ResultResponse)).Status;
    }

    public static async Task ShipLogsAsync(HttpClient worker, Guid executionId, Guid leaseToken, params string[] lines)
    {
        var request = new AppendLogsRequest { LeaseToken = leaseToken, Lines = [.. lines.Select(l => new LogLine(l, "stdout"))] };
        var response = await worker.PostAsJsonAsync(Routes.Of(Routes.WorkerLogs, executionId), request, Json.AppendLogsRequest);
        Assert.True(response.StatusCode == HttpStatusCode.NoContent, $"shipping logs: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
    }

    /// <summary>A tenant with a job, one execution of it, and that execution claimed by a worker.</summary>
    public static async Task<(CreateTenantResponse Tenant, HttpClient Client, Guid JobId, ClaimedExecution Claim)> RunningAsync(
        ControllerHost host, HttpClient worker, int? maxAttempts = null)
    {
        var (tenant, client) = await host.TenantClientAsync();
        var jobId = await CreateJobAsync(client, maxAttempts: maxAttempts);
        var run = await RunAsync(client, jobId);
        var claim = await ClaimAsync(worker, tenant.TenantId, run.ExecutionId);
        return (tenant, client, jobId, claim);
    }
}
