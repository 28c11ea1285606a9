using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Jobplane.Api;
using Jobplane.Store;
using Jobplane.Testing;
using Microsoft.Extensions.DependencyInjection;
using Xunit.Abstractions;

namespace Jobplane.Controller.Tests;

/// <summary>
/// POST /executions/{id}/cancel and POST /jobs/{id}/cancel over HTTP: waiting work ends CANCELLED
/// at once; running work is marked, its worker hears it in the heartbeat answers, and it ends
/// CANCELLED when the worker reports the stop.
/// </summary>
public sealed class CancelTests(ControllerFixture fixture, ITestOutputHelper output) : IClassFixture<ControllerFixture>
{
    private readonly ControllerHost _host = fixture.Host;

    private QueueStore Queue => _host.Services.GetRequiredService<QueueStore>();

    private async Task<IReadOnlyList<DlqEntry>> DlqAsync(HttpClient client) =>
        await Api.ReadAsync(await client.GetAsync("/executions/dlq"), Api.Json.IReadOnlyListDlqEntry);

    private async Task<WorkerHeartbeatResponse> BatchHeartbeatAsync(HttpClient worker, params ClaimedExecution[] claims)
    {
        var request = new WorkerHeartbeatRequest { WorkerId = "test-worker", Leases = [.. claims.Select(c => new LeaseRef(c.ExecutionId, c.LeaseToken))] };
        return await Api.ReadAsync(await worker.PostAsJsonAsync("/internal/heartbeats", request, Api.Json.WorkerHeartbeatRequest),
            Api.Json.WorkerHeartbeatResponse);
    }

    private async Task<HeartbeatResponse> HeartbeatAsync(HttpClient worker, ClaimedExecution claim) =>
        await Api.ReadAsync(await worker.PutAsync($"/internal/executions/{claim.ExecutionId}/heartbeat",
            Api.RawJson($$"""{"lease_token": "{{claim.LeaseToken}}"}""")), Api.Json.HeartbeatResponse);

    /// <summary>CANCELLED, finished, with the request time shown, and never handed to a worker, even once due.</summary>
    private async Task AssertCancelledForGoodAsync(HttpClient client, HttpClient worker, Guid tenantId, Guid executionId)
    {
        var view = await Api.GetExecutionAsync(client, executionId);
        Assert.Equal(ExecutionStatus.Cancelled, view.Status);
        Assert.NotNull(view.CancelRequestedAt);
        Assert.NotNull(view.CompletedAt);
        Assert.Equal(0L, await _host.Database.ScalarAsync<long>("select count(*) from ready_queue where execution_id = $1", executionId));
        Assert.Empty(await Api.DequeueAsync(worker, tenantId, limit: 10));

        await Api.ExecSqlAsync(_host, "update executions set scheduled_at = now() - interval '1 second' where id = $1", executionId);
        await Queue.PromoteDueAsync(1000, CancellationToken.None);
        Assert.Empty(await Api.DequeueAsync(worker, tenantId, limit: 10));
        Assert.Equal(ExecutionStatus.Cancelled, (await Api.GetExecutionAsync(client, executionId)).Status);
    }

    [Fact]
    public async Task Cancelling_a_queued_execution_ends_it_cancelled_and_no_worker_gets_it()
    {
        using var worker = _host.WorkerClient();
        var (tenant, client) = await _host.TenantClientAsync();
        var jobId = await Api.CreateJobAsync(client);
        var run = await Api.RunAsync(client, jobId);

        using var response = await client.PostAsync($"/executions/{run.ExecutionId}/cancel", null);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        using (var doc = JsonDocument.Parse(await response.Content.ReadAsStringAsync()))
        {
            Assert.Equal(run.ExecutionId, doc.RootElement.GetProperty("execution_id").GetGuid());
            Assert.Equal("CANCELLED", doc.RootElement.GetProperty("status").GetString());
            Assert.True(doc.RootElement.GetProperty("cancel_requested").GetBoolean());
        }
        await AssertCancelledForGoodAsync(client, worker, tenant.TenantId, run.ExecutionId);
        Assert.Empty(await DlqAsync(client));
    }

    [Fact]
    public async Task Cancelling_a_scheduled_execution_ends_it_cancelled_and_promotion_does_not_revive_it()
    {
        using var worker = _host.WorkerClient();
        var (tenant, client) = await _host.TenantClientAsync();
        var jobId = await Api.CreateJobAsync(client);
        var run = await Api.RunAsync(client, jobId, $$"""{"scheduled_at": "{{DateTimeOffset.UtcNow.AddHours(1):O}}"}""");
        Assert.Equal(ExecutionStatus.Scheduled, run.Status);

        var cancelled = await Api.CancelAsync(client, run.ExecutionId);

        Assert.Equal(ExecutionStatus.Cancelled, cancelled.Status);
        await AssertCancelledForGoodAsync(client, worker, tenant.TenantId, run.ExecutionId);
    }

    [Fact]
    public async Task Cancelling_an_execution_waiting_for_its_retry_ends_it_cancelled()
    {
        using var worker = _host.WorkerClient();
        var (tenant, client) = await _host.TenantClientAsync();
        // An hour's backoff: the retry cannot come due (and be claimed) while the test runs.
        var jobId = await Api.CreateJobAsync(client, maxAttempts: 3, extra: "\"retry_backoff_base\": 3600");
        var run = await Api.RunAsync(client, jobId);
        var claim = await Api.ClaimAsync(worker, tenant.TenantId, run.ExecutionId);
        Assert.Equal(ExecutionStatus.Retrying, await Api.ResultAsync(worker, claim.ExecutionId, claim.LeaseToken, 1));

        var cancelled = await Api.CancelAsync(client, run.ExecutionId);

        Assert.Equal(ExecutionStatus.Cancelled, cancelled.Status);
        await AssertCancelledForGoodAsync(client, worker, tenant.TenantId, run.ExecutionId);
        Assert.Single((await Api.GetExecutionAsync(client, run.ExecutionId)).Attempts!);
    }

    [Fact]
    public async Task A_running_execution_is_marked_and_its_worker_hears_it_in_both_heartbeats()
    {
        using var worker = _host.WorkerClient();
        var (_, client, _, claim) = await Api.RunningAsync(_host, worker);
        Assert.Equal(ExecutionStatus.Running, (await HeartbeatAsync(worker, claim)).Status);
        Assert.Empty((await BatchHeartbeatAsync(worker, claim)).Cancelled);

        var response = await Api.CancelAsync(client, claim.ExecutionId);

        Assert.Equal(ExecutionStatus.Running, response.Status);
        Assert.True(response.CancelRequested);
        var view = await Api.GetExecutionAsync(client, claim.ExecutionId);
        Assert.Equal(ExecutionStatus.Running, view.Status);
        Assert.NotNull(view.CancelRequestedAt);
        Assert.Null(view.CompletedAt);
        using (var raw = JsonDocument.Parse(await client.GetStringAsync($"/executions/{claim.ExecutionId}")))
        {
            Assert.Equal(JsonValueKind.String, raw.RootElement.GetProperty("cancel_requested_at").ValueKind);
        }

        var batch = await BatchHeartbeatAsync(worker, claim);
        Assert.Equal([claim.ExecutionId], batch.Cancelled);
        Assert.Equal([claim.ExecutionId], batch.Extended);
        Assert.Empty(batch.Lost);
        Assert.Equal("CANCEL_REQUESTED", (await HeartbeatAsync(worker, claim)).Status);

        // A repeated cancel is harmless.
        Assert.Equal(ExecutionStatus.Running, (await Api.CancelAsync(client, claim.ExecutionId)).Status);
        Assert.Equal(view.CancelRequestedAt, (await Api.GetExecutionAsync(client, claim.ExecutionId)).CancelRequestedAt);
    }

    [Fact]
    public async Task A_failure_reported_after_the_cancel_request_ends_cancelled_without_a_dead_letter()
    {
        using var worker = _host.WorkerClient();
        // One attempt: without the cancel, this failure would be FAILED and dead-lettered.
        var (_, client, _, claim) = await Api.RunningAsync(_host, worker, maxAttempts: 1);
        await Api.CancelAsync(client, claim.ExecutionId);

        var status = await Api.ResultAsync(worker, claim.ExecutionId, claim.LeaseToken, 143, "\"error\": \"terminated by SIGTERM\"");

        Assert.Equal(ExecutionStatus.Cancelled, status);
        var view = await Api.GetExecutionAsync(client, claim.ExecutionId);
        Assert.Equal(ExecutionStatus.Cancelled, view.Status);
        Assert.NotNull(view.CompletedAt);
        Assert.Equal("cancelled", Assert.Single(view.Attempts!).Outcome);
        Assert.Empty(await DlqAsync(client));
        // It is over: the lease is gone and a cancel is a conflict.
        var batch = await BatchHeartbeatAsync(worker, claim);
        Assert.Equal([claim.ExecutionId], batch.Lost);
        Assert.Empty(batch.Cancelled);
        await Api.AssertErrorAsync(await client.PostAsync($"/executions/{claim.ExecutionId}/cancel", null),
            HttpStatusCode.Conflict, ErrorCodes.Conflict);
    }

    [Fact]
    public async Task A_retryable_failure_with_attempts_left_after_the_cancel_request_is_not_retried()
    {
        using var worker = _host.WorkerClient();
        var (tenant, client, _, claim) = await Api.RunningAsync(_host, worker, maxAttempts: 5);
        await Api.CancelAsync(client, claim.ExecutionId);

        Assert.Equal(ExecutionStatus.Cancelled, await Api.ResultAsync(worker, claim.ExecutionId, claim.LeaseToken, 1));

        await AssertCancelledForGoodAsync(client, worker, tenant.TenantId, claim.ExecutionId);
        Assert.Empty(await DlqAsync(client));
    }

    [Fact]
    public async Task A_success_reported_after_the_cancel_request_still_ends_succeeded()
    {
        using var worker = _host.WorkerClient();
        var (_, client, _, claim) = await Api.RunningAsync(_host, worker);
        await Api.CancelAsync(client, claim.ExecutionId);

        Assert.Equal(ExecutionStatus.Succeeded, await Api.ResultAsync(worker, claim.ExecutionId, claim.LeaseToken, 0));

        var view = await Api.GetExecutionAsync(client, claim.ExecutionId);
        Assert.Equal(ExecutionStatus.Succeeded, view.Status);
        Assert.Equal("succeeded", Assert.Single(view.Attempts!).Outcome);
    }

    [Fact]
    public async Task A_lease_that_expires_after_the_cancel_request_ends_cancelled_not_requeued()
    {
        using var worker = _host.WorkerClient();
        var (tenant, client, _, claim) = await Api.RunningAsync(_host, worker, maxAttempts: 3);
        await Api.CancelAsync(client, claim.ExecutionId);
        await Api.ExecSqlAsync(_host, "update executions set lease_expires_at = now() - interval '1 second' where id = $1", claim.ExecutionId);

        // The controller's own maintenance may get there first; either way it is rescued once. While
        // maintenance holds the row, this rescue skips it (SKIP LOCKED) and the change is not yet
        // visible: read until the rescue that won has committed.
        var view = await Api.GetExecutionAsync(client, claim.ExecutionId);
        for (var i = 0; i < 100 && view.Status == ExecutionStatus.Running; i++)
        {
            await Queue.RescueExpiredAsync(1000, CancellationToken.None);
            view = await Api.GetExecutionAsync(client, claim.ExecutionId);
            if (view.Status == ExecutionStatus.Running) await Task.Delay(50);
        }
        Assert.Equal(ExecutionStatus.Cancelled, view.Status);
        Assert.Equal("lease_expired", Assert.Single(view.Attempts!).Outcome);
        await AssertCancelledForGoodAsync(client, worker, tenant.TenantId, claim.ExecutionId);
        Assert.Empty(await DlqAsync(client));
        await Api.AssertErrorAsync(await Api.ReportAsync(worker, claim.ExecutionId, $$"""{"lease_token": "{{claim.LeaseToken}}", "exit_code": 1}"""),
            HttpStatusCode.Conflict, ErrorCodes.LeaseLost);
    }

    [Fact]
    public async Task A_release_after_the_cancel_request_ends_cancelled_not_requeued()
    {
        using var worker = _host.WorkerClient();
        var (tenant, client, _, claim) = await Api.RunningAsync(_host, worker);
        await Api.CancelAsync(client, claim.ExecutionId);

        using var released = await worker.PostAsync($"/internal/executions/{claim.ExecutionId}/release",
            Api.RawJson($$"""{"lease_token": "{{claim.LeaseToken}}", "reason": "worker draining"}"""));

        Assert.Equal(HttpStatusCode.NoContent, released.StatusCode);
        await AssertCancelledForGoodAsync(client, worker, tenant.TenantId, claim.ExecutionId);
        Assert.Equal("released", Assert.Single((await Api.GetExecutionAsync(client, claim.ExecutionId)).Attempts!).Outcome);
    }

    [Fact]
    public async Task Cancelling_a_finished_execution_is_409_and_changes_nothing()
    {
        using var worker = _host.WorkerClient();
        var (tenant, client) = await _host.TenantClientAsync();
        var jobId = await Api.CreateJobAsync(client, maxAttempts: 1);
        var succeeded = await Api.RunAsync(client, jobId);
        var c1 = await Api.ClaimAsync(worker, tenant.TenantId, succeeded.ExecutionId);
        Assert.Equal(ExecutionStatus.Succeeded, await Api.ResultAsync(worker, c1.ExecutionId, c1.LeaseToken, 0));
        var failed = await Api.RunAsync(client, jobId);
        var c2 = await Api.ClaimAsync(worker, tenant.TenantId, failed.ExecutionId);
        Assert.Equal(ExecutionStatus.Failed, await Api.ResultAsync(worker, c2.ExecutionId, c2.LeaseToken, 1));
        var cancelled = await Api.RunAsync(client, jobId);
        await Api.CancelAsync(client, cancelled.ExecutionId);

        foreach (var id in new[] { succeeded.ExecutionId, failed.ExecutionId, cancelled.ExecutionId })
        {
            var before = await Api.GetExecutionAsync(client, id);
            using var response = await client.PostAsync($"/executions/{id}/cancel", null);
            var error = await Api.AssertErrorAsync(response, HttpStatusCode.Conflict, ErrorCodes.Conflict);
            Assert.Contains(before.Status, error.Error);
            var after = await Api.GetExecutionAsync(client, id);
            Assert.Equal(before.Status, after.Status);
            Assert.Equal(before.CancelRequestedAt, after.CancelRequestedAt);
            Assert.Equal(before.CompletedAt, after.CompletedAt);
            Assert.Equal(before.Error, after.Error);
        }
        Assert.Null((await Api.GetExecutionAsync(client, succeeded.ExecutionId)).CancelRequestedAt);
        Assert.Equal(failed.ExecutionId, Assert.Single(await DlqAsync(client)).ExecutionId);
    }

    [Fact]
    public async Task Another_tenant_gets_404_and_changes_nothing()
    {
        using var worker = _host.WorkerClient();
        var (tenant, client) = await _host.TenantClientAsync();
        var (_, stranger) = await _host.TenantClientAsync();
        var jobId = await Api.CreateJobAsync(client);
        var queued = await Api.RunAsync(client, jobId);
        var scheduled = await Api.RunAsync(client, jobId, $$"""{"scheduled_at": "{{DateTimeOffset.UtcNow.AddHours(1):O}}"}""");

        foreach (var path in new[]
        {
            $"/executions/{queued.ExecutionId}/cancel", $"/executions/{scheduled.ExecutionId}/cancel", $"/jobs/{jobId}/cancel",
            $"/executions/{Guid.NewGuid()}/cancel", $"/jobs/{Guid.NewGuid()}/cancel", "/executions/not-a-uuid/cancel", "/jobs/not-a-uuid/cancel",
        })
        {
            using var response = await stranger.PostAsync(path, null);
            await Api.AssertErrorAsync(response, HttpStatusCode.NotFound, ErrorCodes.NotFound);
        }
        using (var unknown = await client.PostAsync($"/executions/{Guid.NewGuid()}/cancel", null))
        {
            await Api.AssertErrorAsync(unknown, HttpStatusCode.NotFound, ErrorCodes.NotFound);
        }

        foreach (var (id, status) in new[] { (queued.ExecutionId, ExecutionStatus.Pending), (scheduled.ExecutionId, ExecutionStatus.Scheduled) })
        {
            var view = await Api.GetExecutionAsync(client, id);
            Assert.Equal(status, view.Status);
            Assert.Null(view.CancelRequestedAt);
        }
        Assert.Equal(queued.ExecutionId, Assert.Single(await Api.DequeueAsync(worker, tenant.TenantId, limit: 10)).ExecutionId);
    }

    [Fact]
    public async Task Cancelling_a_job_cancels_what_waits_marks_what_runs_and_returns_the_counts()
    {
        using var worker = _host.WorkerClient();
        var (tenant, client) = await _host.TenantClientAsync();
        var jobId = await Api.CreateJobAsync(client, maxAttempts: 3, extra: "\"retry_backoff_base\": 3600");
        var otherJob = await Api.CreateJobAsync(client);

        var running = await Api.RunAsync(client, jobId);
        var runningClaim = await Api.ClaimAsync(worker, tenant.TenantId, running.ExecutionId);
        var retrying = await Api.RunAsync(client, jobId);
        var retryingClaim = await Api.ClaimAsync(worker, tenant.TenantId, retrying.ExecutionId);
        Assert.Equal(ExecutionStatus.Retrying, await Api.ResultAsync(worker, retrying.ExecutionId, retryingClaim.LeaseToken, 1));
        var succeeded = await Api.RunAsync(client, jobId);
        var succeededClaim = await Api.ClaimAsync(worker, tenant.TenantId, succeeded.ExecutionId);
        Assert.Equal(ExecutionStatus.Succeeded, await Api.ResultAsync(worker, succeeded.ExecutionId, succeededClaim.LeaseToken, 0));
        var scheduled = await Api.RunAsync(client, jobId, $$"""{"scheduled_at": "{{DateTimeOffset.UtcNow.AddHours(1):O}}"}""");
        var queued1 = await Api.RunAsync(client, jobId);
        var queued2 = await Api.RunAsync(client, jobId);

        using var response = await client.PostAsync($"/jobs/{jobId}/cancel", null);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        using (var doc = JsonDocument.Parse(await response.Content.ReadAsStringAsync()))
        {
            Assert.Equal(4, doc.RootElement.GetProperty("cancelled").GetInt32());
            Assert.Equal(1, doc.RootElement.GetProperty("stopping").GetInt32());
        }
        foreach (var id in new[] { queued1.ExecutionId, queued2.ExecutionId, scheduled.ExecutionId, retrying.ExecutionId })
        {
            var view = await Api.GetExecutionAsync(client, id);
            Assert.Equal(ExecutionStatus.Cancelled, view.Status);
            Assert.NotNull(view.CancelRequestedAt);
        }
        var runningView = await Api.GetExecutionAsync(client, running.ExecutionId);
        Assert.Equal(ExecutionStatus.Running, runningView.Status);
        Assert.NotNull(runningView.CancelRequestedAt);
        Assert.Null((await Api.GetExecutionAsync(client, succeeded.ExecutionId)).CancelRequestedAt);
        Assert.Equal(ExecutionStatus.Succeeded, (await Api.GetExecutionAsync(client, succeeded.ExecutionId)).Status);
        Assert.Equal([running.ExecutionId], (await BatchHeartbeatAsync(worker, runningClaim)).Cancelled);

        // Nothing of the cancelled job can be claimed; the tenant's other job still runs.
        Assert.Empty(await Api.DequeueAsync(worker, tenant.TenantId, limit: 10));
        var other = await Api.RunAsync(client, otherJob);
        Assert.Equal(other.ExecutionId, (await Api.ClaimAsync(worker, tenant.TenantId, other.ExecutionId)).ExecutionId);

        // The worker stops the running one and reports; it ends CANCELLED.
        Assert.Equal(ExecutionStatus.Cancelled, await Api.ResultAsync(worker, running.ExecutionId, runningClaim.LeaseToken, 137));
        Assert.Empty(await DlqAsync(client));
        var again = await Api.ReadAsync(await client.PostAsync($"/jobs/{jobId}/cancel", null), Api.Json.BulkCancelResponse);
        Assert.Equal(0, again.Cancelled);
        Assert.Equal(0, again.Stopping);
    }

    [Fact]
    public async Task Cancels_racing_eight_claiming_workers_never_cancel_a_claimed_execution()
    {
        const int Count = 200;
        var (tenant, client) = await _host.TenantClientAsync();
        var jobId = await Api.CreateJobAsync(client);
        var ids = new List<Guid>();
        for (var i = 0; i < Count; i++) ids.Add((await Api.RunAsync(client, jobId)).ExecutionId);

        var claimed = new ConcurrentDictionary<Guid, int>();
        var answers = new ConcurrentDictionary<Guid, CancelResponse>();
        var cancellersLeft = 4;
        // Cancels one by one from four clients (two from each end of the queue) while eight workers claim.
        var cancellers = Enumerable.Range(0, 4).Select(k => Task.Run(async () =>
        {
            try
            {
                var mine = Enumerable.Range(0, Count).Where(i => i % 4 == k);
                foreach (var i in k < 2 ? mine : mine.Reverse())
                    Assert.True(answers.TryAdd(ids[i], await Api.CancelAsync(client, ids[i])));
            }
            finally
            {
                Interlocked.Decrement(ref cancellersLeft);
            }
        })).ToList();
        var claimers = Enumerable.Range(0, 8).Select(w => Task.Run(async () =>
        {
            using var worker = _host.WorkerClient();
            while (Volatile.Read(ref cancellersLeft) > 0)
            {
                var request = new DequeueRequest { Limit = 1 + w % 2, TenantIds = [tenant.TenantId], WorkerId = $"worker-{w}", WaitSeconds = 0 };
                var response = await worker.PostAsJsonAsync("/internal/executions/dequeue", request, Api.Json.DequeueRequest);
                foreach (var c in (await Api.ReadAsync(response, Api.Json.DequeueResponse)).Executions)
                    claimed.AddOrUpdate(c.ExecutionId, 1, (_, n) => n + 1);
                await Task.Delay(10); // pacing only, so the cancellers get a fair share of the rows
            }
        })).ToList();
        await Task.WhenAll(cancellers.Concat(claimers));

        output.WriteLine($"{claimed.Count} of {Count} claimed before their cancel, {Count - claimed.Count} cancelled before a claim");
        Assert.Equal(Count, answers.Count);
        Assert.All(claimed, c => Assert.Equal(1, c.Value));
        var views = (await Api.ReadAsync(await client.GetAsync($"/executions?job_id={jobId}&limit=500"), Api.Json.ExecutionList))
            .Executions.ToDictionary(v => v.Id);
        Assert.Equal(Count, views.Count);
        var failures = new List<string>();
        foreach (var id in ids)
        {
            var (answer, view, wasClaimed) = (answers[id], views[id], claimed.ContainsKey(id));
            var ok = answer.CancelRequested && view.CancelRequestedAt is not null && answer.Status switch
            {
                ExecutionStatus.Cancelled => !wasClaimed && view.Status == ExecutionStatus.Cancelled && view.Attempt == 0,
                ExecutionStatus.Running => wasClaimed && view.Status == ExecutionStatus.Running,
                _ => false,
            };
            if (!ok) failures.Add($"{id}: cancel answered {answer.Status}, claimed {wasClaimed}, now {view.Status}, attempt {view.Attempt}");
        }
        Assert.True(failures.Count == 0, string.Join("\n", failures));
        using var last = _host.WorkerClient();
        Assert.Empty(await Api.DequeueAsync(last, tenant.TenantId, limit: 100));
    }
}
