using System.Collections.Concurrent;
using System.Net;
using System.Reflection;
using System.Text.Json;
using Jobplane.Api;
using Jobplane.Client;
using Jobplane.Testing;

namespace Jobplane.Controller.Tests;

/// <summary>
/// The typed client and the OpenAPI document agree: every public call of <see cref="JobplaneClient"/> and
/// <see cref="WorkerClient"/> is made once against the real controller, each request must land on a
/// documented operation, each answer must keep that operation's schema (the host's check), and together
/// the calls must reach every operation the document lists. A route added to the controller without a
/// client call, or a client call the document does not describe, fails here by name.
/// </summary>
public sealed class ClientContractTests(ControllerFixture fixture) : IClassFixture<ControllerFixture>
{
    /// <summary>Operations no client call makes, each with its reason.</summary>
    private static readonly Dictionary<string, string> NotInTheClient = new(StringComparer.Ordinal)
    {
        ["getMetrics"] = "Prometheus text, read by a scraper, not by a program through the client",
    };

    private readonly ControllerHost _host = fixture.Host;
    private readonly ConcurrentQueue<(HttpMethod Method, string Path)> _requests = new();
    private readonly Dictionary<string, SortedSet<string>> _reached = new(StringComparer.Ordinal);
    private readonly List<string> _undocumented = [];

    [Fact]
    public async Task Every_client_call_is_a_documented_operation_and_together_they_reach_every_operation()
    {
        var ct = CancellationToken.None;
        using var adminHttp = _host.Client(null, new Recorder(_requests));
        var admin = new JobplaneClient(adminHttp, _host.BaseAddress, ControllerHost.AdminSecret);

        // Administration.
        await Call(nameof(JobplaneClient.GetHealthAsync), () => admin.GetHealthAsync(ct));
        await Call(nameof(JobplaneClient.GetReadinessAsync), () => admin.GetReadinessAsync(ct));
        var tenant = (await Call(nameof(JobplaneClient.CreateTenantAsync),
            () => admin.CreateTenantAsync(new TenantRequest { Name = $"contract-{Guid.NewGuid():N}" }, ct))).Value;
        await Call(nameof(JobplaneClient.UpdateTenantAsync), () => admin.UpdateTenantAsync(tenant.TenantId, new TenantRequest { Weight = 2 }, ct));
        await Call(nameof(JobplaneClient.ListTenantsAsync), () => admin.ListTenantsAsync(1, null, null, ct));
        await Call(nameof(JobplaneClient.GetTenantAsync), () => admin.GetTenantAsync(tenant.TenantId, ct));
        await Call(nameof(JobplaneClient.SetTenantSuspendedAsync), () => admin.SetTenantSuspendedAsync(tenant.TenantId, true, ct));
        await Call(nameof(JobplaneClient.SetTenantSuspendedAsync), () => admin.SetTenantSuspendedAsync(tenant.TenantId, false, ct));
        var adminKey = (await Call(nameof(JobplaneClient.CreateApiKeyAsync), () => admin.CreateApiKeyAsync(tenant.TenantId, "by-admin", ct))).Value;
        await Call(nameof(JobplaneClient.ListApiKeysAsync), () => admin.ListApiKeysAsync(tenant.TenantId, null, null, ct));
        await Call(nameof(JobplaneClient.RevokeApiKeyAsync), () => admin.RevokeApiKeyAsync(tenant.TenantId, adminKey.Id, ct));
        var credential = (await Call(nameof(JobplaneClient.CreateWorkerCredentialAsync),
            () => admin.CreateWorkerCredentialAsync(new CreateWorkerCredentialRequest { Name = $"contract-{Guid.NewGuid():N}" }, ct))).Value;
        await Call(nameof(JobplaneClient.ListWorkerCredentialsAsync), () => admin.ListWorkerCredentialsAsync(1, null, ct));
        await Call(nameof(JobplaneClient.RevokeWorkerCredentialAsync), () => admin.RevokeWorkerCredentialAsync(credential.Id, ct));
        await Call(nameof(JobplaneClient.ListAuditAsync), () => admin.ListAuditAsync(tenant.TenantId, null, 10, ct));

        // The tenant's own calls.
        using var tenantHttp = _host.Client(null, new Recorder(_requests));
        var client = new JobplaneClient(tenantHttp, _host.BaseAddress, tenant.ApiKey);
        var ownKey = (await Call(nameof(JobplaneClient.CreateApiKeyAsync), () => client.CreateApiKeyAsync(null, "own", ct))).Value;
        await Call(nameof(JobplaneClient.ListApiKeysAsync), () => client.ListApiKeysAsync(null, null, null, ct));
        await Call(nameof(JobplaneClient.RevokeApiKeyAsync), () => client.RevokeApiKeyAsync(null, ownKey.Id, ct));
        var jobId = (await Call(nameof(JobplaneClient.CreateJobAsync), () => client.CreateJobAsync(new CreateJobRequest
        {
            Name = $"contract-{Guid.NewGuid():N}",
            Image = "exec",
            Command = ["true"],
            MaxAttempts = 1,
        }, ct))).Value.JobId;
        await Call(nameof(JobplaneClient.GetJobAsync), () => client.GetJobAsync(jobId, ct));
        await Call(nameof(JobplaneClient.ListJobsAsync), () => client.ListJobsAsync(10, null, null, ct));
        var first = (await Call(nameof(JobplaneClient.RunJobAsync), () => client.RunJobAsync(jobId, new RunJobRequest(), null, ct))).Value.ExecutionId;
        var more = (await Call(nameof(JobplaneClient.RunJobManyAsync),
            () => client.RunJobManyAsync(jobId, new BatchRunRequest { Count = 4 }, ct))).Value.ExecutionIds;

        // A worker runs them: one succeeds, one fails into the dead-letter queue, one is handed back, one is cancelled while running.
        using var workerHttp = _host.Client(null, new Recorder(_requests));
        var worker = new WorkerClient(workerHttp, _host.BaseAddress, ControllerHost.WorkerToken);
        var claimed = new List<ClaimedExecution>();
        for (var round = 0; round < 20 && claimed.Count < 5; round++)
        {
            var answer = await Call(nameof(WorkerClient.DequeueAsync), () => worker.DequeueAsync(new DequeueRequest
            {
                Limit = 5 - claimed.Count,
                TenantIds = [tenant.TenantId],
                WorkerId = "client-contract",
                WaitSeconds = 1,
            }, ct));
            claimed.AddRange(answer.Executions);
        }
        Assert.Equal(more.Prepend(first).Order(), claimed.Select(c => c.ExecutionId).Order());
        var byId = claimed.ToDictionary(c => c.ExecutionId);
        var (succeeds, fails, handedBack, cancelled) = (byId[first], byId[more[0]], byId[more[1]], byId[more[2]]);

        await Call(nameof(WorkerClient.HeartbeatAsync), () => worker.HeartbeatAsync(new WorkerHeartbeatRequest
        {
            WorkerId = "client-contract",
            Leases = [.. claimed.Select(c => new LeaseRef(c.ExecutionId, c.LeaseToken))],
        }, ct));
        await Call(nameof(WorkerClient.HeartbeatLeaseAsync),
            () => worker.HeartbeatLeaseAsync(succeeds.ExecutionId, new HeartbeatRequest { LeaseToken = succeeds.LeaseToken }, ct));
        await Call(nameof(WorkerClient.AppendLogsAsync), () => worker.AppendLogsAsync(succeeds.ExecutionId, new AppendLogsRequest
        {
            LeaseToken = succeeds.LeaseToken,
            Lines = [new LogLine("hello", "stdout"), new LogLine("warning", "stderr")],
        }, ct));
        // A restarted worker takes the attempt over: the same attempt and payload, and how many lines of each stream are stored.
        var resumed = await Call(nameof(WorkerClient.ResumeAsync), () => worker.ResumeAsync(succeeds.ExecutionId,
            new ResumeRequest { LeaseToken = succeeds.LeaseToken, WorkerId = "client-contract" }, ct));
        Assert.Equal((succeeds.ExecutionId, succeeds.LeaseToken, succeeds.Attempt), (resumed.Execution.ExecutionId, resumed.Execution.LeaseToken, resumed.Execution.Attempt));
        Assert.Equal(succeeds.Payload.Command, resumed.Execution.Payload.Command);
        Assert.Equal((1L, 1L), (resumed.LoggedStdout, resumed.LoggedStderr));
        Assert.True(resumed.RunningSeconds >= 0);
        // Only the worker that holds the lease, by its token.
        var otherWorker = await Assert.ThrowsAsync<ApiException>(() => worker.ResumeAsync(succeeds.ExecutionId,
            new ResumeRequest { LeaseToken = succeeds.LeaseToken, WorkerId = "someone-else" }, ct));
        Assert.Equal(HttpStatusCode.Conflict, otherWorker.Status);
        var wrongToken = await Assert.ThrowsAsync<ApiException>(() => worker.ResumeAsync(succeeds.ExecutionId,
            new ResumeRequest { LeaseToken = Guid.NewGuid(), WorkerId = "client-contract" }, ct));
        Assert.Equal(HttpStatusCode.Conflict, wrongToken.Status);
        var noToken = await Assert.ThrowsAsync<ApiException>(() => worker.ResumeAsync(succeeds.ExecutionId, new ResumeRequest { WorkerId = "client-contract" }, ct));
        Assert.Equal((HttpStatusCode.BadRequest, "lease_token is required"), (noToken.Status, noToken.Error));
        var unknown = await Assert.ThrowsAsync<ApiException>(() => worker.ResumeAsync(Guid.NewGuid(),
            new ResumeRequest { LeaseToken = succeeds.LeaseToken, WorkerId = "client-contract" }, ct));
        Assert.Equal(HttpStatusCode.NotFound, unknown.Status);
        await Call(nameof(WorkerClient.ReportResultAsync), () => worker.ReportResultAsync(succeeds.ExecutionId, new ResultRequest
        {
            LeaseToken = succeeds.LeaseToken,
            ExitCode = 0,
            Result = JsonDocument.Parse("""{"rows": 3}""").RootElement,
        }, ct));
        await Call(nameof(WorkerClient.ReportResultsAsync), () => worker.ReportResultsAsync(new ResultBatchRequest
        {
            Results = [new ResultReport { ExecutionId = fails.ExecutionId, LeaseToken = fails.LeaseToken, ExitCode = 1, Error = "exit 1" }],
        }, ct));
        await Call(nameof(WorkerClient.ReleaseAsync),
            () => worker.ReleaseAsync(handedBack.ExecutionId, new ReleaseRequest { LeaseToken = handedBack.LeaseToken, Reason = "draining" }, ct));
        await Call(nameof(JobplaneClient.CancelExecutionAsync), () => client.CancelExecutionAsync(cancelled.ExecutionId, ct));

        // What the tenant reads back.
        var execution = (await Call(nameof(JobplaneClient.GetExecutionAsync), () => client.GetExecutionAsync(first, ct))).Value;
        Assert.Equal(ExecutionStatus.Succeeded, execution.Status);
        await Call(nameof(JobplaneClient.ListExecutionsAsync), () => client.ListExecutionsAsync(null, jobId, 10, null, null, ct));
        await Call(nameof(JobplaneClient.GetAttemptsAsync), () => client.GetAttemptsAsync(first, ct));
        var logs = (await Call(nameof(JobplaneClient.GetLogsAsync), () => client.GetLogsAsync(first, 0, 100, ct))).Value;
        Assert.Equal(["hello", "warning"], logs.Logs.Select(l => l.Content));
        var followed = await Call(nameof(JobplaneClient.FollowLogsAsync), async () =>
        {
            var events = new List<LogStreamEvent>();
            await foreach (var e in client.FollowLogsAsync(first, 0, ct)) events.Add(e);
            return events;
        });
        Assert.Equal(["hello", "warning"], followed.Where(e => e.Entry is not null).Select(e => e.Entry!.Content));
        Assert.Equal(ExecutionStatus.Succeeded, followed[^1].End?.Status);

        var dead = (await Call(nameof(JobplaneClient.ListDlqAsync), () => client.ListDlqAsync(10, null, null, ct))).Value;
        Assert.Equal(fails.ExecutionId, Assert.Single(dead).ExecutionId);
        await Call(nameof(JobplaneClient.RetryDlqAsync), () => client.RetryDlqAsync(dead[0].Id, ct));
        await Call(nameof(JobplaneClient.RetryAllDlqAsync), () => client.RetryAllDlqAsync(jobId, ct));
        await Call(nameof(JobplaneClient.PurgeDlqAsync), () => client.PurgeDlqAsync(jobId, ct));

        // A recurring schedule of the job: defined, read, changed, paused, resumed, triggered, its history, deleted.
        var schedule = (await Call(nameof(JobplaneClient.CreateScheduleAsync), () => client.CreateScheduleAsync(new ScheduleRequest
        {
            Name = "nightly",
            JobId = jobId,
            Cron = "30 2 * * *",
            TimeZone = "Europe/Berlin",
        }, ct))).Value;
        Assert.Equal(5, schedule.NextFireTimes.Count);
        await Call(nameof(JobplaneClient.ListSchedulesAsync), () => client.ListSchedulesAsync(10, null, ct));
        await Call(nameof(JobplaneClient.GetScheduleAsync), () => client.GetScheduleAsync(schedule.Id, ct));
        var changed = (await Call(nameof(JobplaneClient.UpdateScheduleAsync),
            () => client.UpdateScheduleAsync(schedule.Id, new ScheduleRequest { Overlap = "skip" }, ct))).Value;
        Assert.Equal(("skip", "30 2 * * *"), (changed.Overlap, changed.Cron));
        Assert.Equal("paused", (await Call(nameof(JobplaneClient.SetSchedulePausedAsync), () => client.SetSchedulePausedAsync(schedule.Id, true, ct))).Value.State);
        Assert.Equal("active", (await Call(nameof(JobplaneClient.SetSchedulePausedAsync), () => client.SetSchedulePausedAsync(schedule.Id, false, ct))).Value.State);
        var fired = (await Call(nameof(JobplaneClient.TriggerScheduleAsync), () => client.TriggerScheduleAsync(schedule.Id, ct))).Value;
        var history = (await Call(nameof(JobplaneClient.GetScheduleHistoryAsync), () => client.GetScheduleHistoryAsync(schedule.Id, 10, null, ct))).Value;
        Assert.Equal((fired.ExecutionId, "manual"), (Assert.Single(history.Fires).ExecutionId, history.Fires[0].Trigger));
        await Call(nameof(JobplaneClient.DeleteScheduleAsync), () => client.DeleteScheduleAsync(schedule.Id, ct));
        var hook = (await Call(nameof(JobplaneClient.CreateWebhookAsync), () => client.CreateWebhookAsync(new WebhookRequest
        {
            Url = "https://93.184.215.14/hooks/jobplane",
            Events = ["execution.failed"],
        }, ct))).Value;
        Assert.StartsWith("whsec_", hook.Secret);
        Assert.Contains((await Call(nameof(JobplaneClient.ListWebhooksAsync), () => client.ListWebhooksAsync(ct))).Value.Webhooks, w => w.Id == hook.Id);
        await Call(nameof(JobplaneClient.GetWebhookAsync), () => client.GetWebhookAsync(hook.Id, ct));
        Assert.Equal("tour", (await Call(nameof(JobplaneClient.UpdateWebhookAsync),
            () => client.UpdateWebhookAsync(hook.Id, new WebhookRequest { Description = "tour" }, ct))).Value.Description);
        Assert.NotEqual(hook.Secret, (await Call(nameof(JobplaneClient.RotateWebhookSecretAsync),
            () => client.RotateWebhookSecretAsync(hook.Id, 60, ct))).Value.Secret);
        var test = (await Call(nameof(JobplaneClient.TestWebhookAsync), () => client.TestWebhookAsync(hook.Id, ct))).Value;
        Assert.Contains((await Call(nameof(JobplaneClient.ListWebhookDeliveriesAsync), () => client.ListWebhookDeliveriesAsync(hook.Id, 10, null, ct))).Value.Deliveries,
            d => d.Id == test.DeliveryId);
        await Call(nameof(JobplaneClient.GetWebhookDeliveryAsync), () => client.GetWebhookDeliveryAsync(hook.Id, test.DeliveryId, ct));
        // A finished delivery to send again (nothing reaches this address from here).
        await Api.ExecSqlAsync(_host, "update webhook_deliveries set state = 'failed', finished_at = now() where id = $1", test.DeliveryId);
        await Call(nameof(JobplaneClient.RedeliverWebhookAsync), () => client.RedeliverWebhookAsync(hook.Id, test.DeliveryId, ct));
        await Call(nameof(JobplaneClient.DeleteWebhookAsync), () => client.DeleteWebhookAsync(hook.Id, ct));
        await Call(nameof(JobplaneClient.CancelJobAsync), () => client.CancelJobAsync(jobId, ct));

        // Every public call was made, every request was documented, and together they reach every operation.
        var calls = typeof(JobplaneClient).GetMethods(BindingFlags.Public | BindingFlags.Instance | BindingFlags.DeclaredOnly)
            .Concat(typeof(WorkerClient).GetMethods(BindingFlags.Public | BindingFlags.Instance | BindingFlags.DeclaredOnly))
            .Where(m => !m.IsSpecialName)
            .Select(m => m.Name)
            .ToHashSet(StringComparer.Ordinal);
        Assert.True(calls.SetEquals(_reached.Keys),
            $"client calls this tour does not make: {string.Join(", ", calls.Except(_reached.Keys))}; " +
            $"made but not public calls: {string.Join(", ", _reached.Keys.Except(calls))}");
        Assert.True(_undocumented.Count == 0, $"requests the document does not describe: {string.Join(", ", _undocumented)}");
        var reached = _reached.Values.SelectMany(ids => ids).ToHashSet(StringComparer.Ordinal);
        var documented = await _host.Contract.OperationIdsAsync();
        var missing = documented.Except(reached).Except(NotInTheClient.Keys).Order().ToList();
        Assert.True(missing.Count == 0, $"documented operations no client call reaches: {string.Join(", ", missing)}");
        Assert.All(NotInTheClient.Keys, id => Assert.Contains(id, documented));
        Assert.Empty(NotInTheClient.Keys.Intersect(reached));
    }

    /// <summary>Makes one client call and notes which documented operations its requests reached.</summary>
    private async Task<T> Call<T>(string method, Func<Task<T>> call)
    {
        _requests.Clear();
        var result = await call();
        await Note(method);
        return result;
    }

    private async Task Call(string method, Func<Task> call)
    {
        _requests.Clear();
        await call();
        await Note(method);
    }

    private async Task Note(string method)
    {
        Assert.False(_requests.IsEmpty, $"{method} sent no request");
        if (!_reached.TryGetValue(method, out var ids)) _reached[method] = ids = new SortedSet<string>(StringComparer.Ordinal);
        foreach (var (verb, path) in _requests)
        {
            if (await _host.Contract.OperationIdAsync(verb, path) is { } id) ids.Add(id);
            else _undocumented.Add($"{method}: {verb} {path}");
        }
    }

    /// <summary>Notes each request's method and path as it goes out (one per HttpClient: a handler belongs to one pipeline).</summary>
    private sealed class Recorder(ConcurrentQueue<(HttpMethod Method, string Path)> requests) : DelegatingHandler
    {
        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            requests.Enqueue((request.Method, request.RequestUri!.AbsolutePath));
            return base.SendAsync(request, cancellationToken);
        }
    }
}
