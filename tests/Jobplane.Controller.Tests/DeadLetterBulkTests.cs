using System.Net;
using System.Text.Json;
using Jobplane.Api;
using Jobplane.Testing;

namespace Jobplane.Controller.Tests;

/// <summary>POST /executions/dlq/retry and /executions/dlq/purge: the whole dead-letter queue (or one job's part) at once.</summary>
public sealed class DeadLetterBulkTests(ControllerFixture fixture) : IClassFixture<ControllerFixture>
{
    private readonly ControllerHost _host = fixture.Host;

    private static async Task<IReadOnlyList<DlqEntry>> DlqAsync(HttpClient client) =>
        await Api.ReadAsync(await client.GetAsync("/executions/dlq"), Api.Json.IReadOnlyListDlqEntry);

    /// <summary>Runs the job once and fails its only attempt.</summary>
    private static async Task<Guid> DeadLetterAsync(HttpClient client, HttpClient worker, Guid tenantId, Guid jobId)
    {
        var run = await Api.RunAsync(client, jobId);
        var claim = await Api.ClaimAsync(worker, tenantId, run.ExecutionId);
        Assert.Equal(ExecutionStatus.Failed, await Api.ResultAsync(worker, claim.ExecutionId, claim.LeaseToken, 1));
        return run.ExecutionId;
    }

    private static async Task<DlqBulkRetryResponse> RetryAllAsync(HttpClient client, string? body = null) =>
        await Api.ReadAsync(await client.PostAsync("/executions/dlq/retry", body is null ? null : Api.RawJson(body)), Api.Json.DlqBulkRetryResponse);

    private static async Task<int> PurgeAsync(HttpClient client, string? body = null) =>
        (await Api.ReadAsync(await client.PostAsync("/executions/dlq/purge", body is null ? null : Api.RawJson(body)), Api.Json.DlqPurgeResponse)).Purged;

    [Fact]
    public async Task Retrying_all_reruns_every_dead_letter_and_a_second_call_retries_none()
    {
        using var worker = _host.WorkerClient();
        var (tenant, client) = await _host.TenantClientAsync();
        var jobA = await Api.CreateJobAsync(client, maxAttempts: 1);
        var jobB = await Api.CreateJobAsync(client, maxAttempts: 1);
        var failed = new[]
        {
            await DeadLetterAsync(client, worker, tenant.TenantId, jobA),
            await DeadLetterAsync(client, worker, tenant.TenantId, jobA),
            await DeadLetterAsync(client, worker, tenant.TenantId, jobB),
        };
        Assert.Equal(3, (await DlqAsync(client)).Count);

        using var response = await client.PostAsync("/executions/dlq/retry", null);

        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, text);
        using (var doc = JsonDocument.Parse(text))
        {
            Assert.Equal(3, doc.RootElement.GetProperty("retried").GetInt32());
            Assert.Equal(3, doc.RootElement.GetProperty("new_execution_ids").GetArrayLength());
        }
        var result = JsonSerializer.Deserialize(text, Api.Json.DlqBulkRetryResponse)!;
        Assert.Equal(3, result.NewExecutionIds.Distinct().Count());
        Assert.Empty(result.NewExecutionIds.Intersect(failed));
        foreach (var id in result.NewExecutionIds)
        {
            var view = await Api.GetExecutionAsync(client, id);
            Assert.Equal(ExecutionStatus.Pending, view.Status);
            Assert.Equal(0, view.Attempt);
        }
        Assert.Empty(await DlqAsync(client));
        foreach (var id in failed) Assert.Equal(ExecutionStatus.Failed, (await Api.GetExecutionAsync(client, id)).Status);
        var claimed = await Api.DequeueAsync(worker, tenant.TenantId, limit: 10);
        Assert.Equal(result.NewExecutionIds.Order(), claimed.Select(c => c.ExecutionId).Order());

        var again = await RetryAllAsync(client);
        Assert.Equal(0, again.Retried);
        Assert.Empty(again.NewExecutionIds);
    }

    [Fact]
    public async Task Retrying_with_a_job_id_reruns_only_that_jobs_dead_letters()
    {
        using var worker = _host.WorkerClient();
        var (tenant, client) = await _host.TenantClientAsync();
        var jobA = await Api.CreateJobAsync(client, maxAttempts: 1);
        var jobB = await Api.CreateJobAsync(client, maxAttempts: 1);
        await DeadLetterAsync(client, worker, tenant.TenantId, jobA);
        var failedB = await DeadLetterAsync(client, worker, tenant.TenantId, jobB);

        var result = await RetryAllAsync(client, $$"""{"job_id": "{{jobA}}"}""");

        Assert.Equal(1, result.Retried);
        Assert.Equal(jobA, (await Api.GetExecutionAsync(client, Assert.Single(result.NewExecutionIds))).JobId);
        Assert.Equal(failedB, Assert.Single(await DlqAsync(client)).ExecutionId);
        Assert.Equal(0, (await RetryAllAsync(client, $$"""{"job_id": "{{jobA}}"}""")).Retried);
        // An empty body object means all of them.
        Assert.Equal(1, (await RetryAllAsync(client, "{}")).Retried);
        Assert.Empty(await DlqAsync(client));
    }

    [Fact]
    public async Task Purging_removes_the_entries_and_keeps_the_execution_history()
    {
        using var worker = _host.WorkerClient();
        var (tenant, client) = await _host.TenantClientAsync();
        var jobA = await Api.CreateJobAsync(client, maxAttempts: 1);
        var jobB = await Api.CreateJobAsync(client, maxAttempts: 1);
        var failedA1 = await DeadLetterAsync(client, worker, tenant.TenantId, jobA);
        var failedA2 = await DeadLetterAsync(client, worker, tenant.TenantId, jobA);
        var failedB = await DeadLetterAsync(client, worker, tenant.TenantId, jobB);

        Assert.Equal(1, await PurgeAsync(client, $$"""{"job_id": "{{jobB}}"}"""));
        Assert.Equal(new[] { failedA1, failedA2 }.Order(), (await DlqAsync(client)).Select(d => d.ExecutionId).Order());

        using var response = await client.PostAsync("/executions/dlq/purge", null);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, text);
        using (var doc = JsonDocument.Parse(text))
        {
            Assert.Equal(2, doc.RootElement.GetProperty("purged").GetInt32());
        }

        Assert.Empty(await DlqAsync(client));
        Assert.Equal(0, await PurgeAsync(client));
        Assert.Equal(0, (await RetryAllAsync(client)).Retried);
        foreach (var id in new[] { failedA1, failedA2, failedB })
        {
            var view = await Api.GetExecutionAsync(client, id);
            Assert.Equal(ExecutionStatus.Failed, view.Status);
            Assert.Equal(1, view.ExitCode);
            Assert.Equal("failed", Assert.Single(view.Attempts!).Outcome);
        }
        // The executions' attempts stay readable too.
        var attempts = await Api.ReadAsync(await client.GetAsync($"/executions/{failedB}/attempts"), Api.Json.IReadOnlyListAttemptView);
        Assert.Single(attempts);
    }

    [Fact]
    public async Task Bulk_retry_and_purge_touch_only_the_callers_dead_letters()
    {
        using var worker = _host.WorkerClient();
        var (a, clientA) = await _host.TenantClientAsync();
        var (b, clientB) = await _host.TenantClientAsync();
        var jobA = await Api.CreateJobAsync(clientA, maxAttempts: 1);
        var jobB = await Api.CreateJobAsync(clientB, maxAttempts: 1);
        await DeadLetterAsync(clientA, worker, a.TenantId, jobA);
        var failedB = new[]
        {
            await DeadLetterAsync(clientB, worker, b.TenantId, jobB),
            await DeadLetterAsync(clientB, worker, b.TenantId, jobB),
        };
        var bExecutions = await _host.Database.ScalarAsync<long>("select count(*) from executions where tenant_id = $1", b.TenantId);

        // Naming B's job changes nothing for anyone.
        Assert.Equal(0, (await RetryAllAsync(clientA, $$"""{"job_id": "{{jobB}}"}""")).Retried);
        Assert.Equal(0, await PurgeAsync(clientA, $$"""{"job_id": "{{jobB}}"}"""));
        Assert.Single(await DlqAsync(clientA));

        var retried = await RetryAllAsync(clientA);
        Assert.Equal(1, retried.Retried);
        var rerun = await Api.ClaimAsync(worker, a.TenantId, retried.NewExecutionIds[0]);
        Assert.Equal(ExecutionStatus.Failed, await Api.ResultAsync(worker, rerun.ExecutionId, rerun.LeaseToken, 1));
        Assert.Equal(1, await PurgeAsync(clientA));
        Assert.Empty(await DlqAsync(clientA));

        Assert.Equal(failedB.Order(), (await DlqAsync(clientB)).Select(d => d.ExecutionId).Order());
        Assert.Equal(bExecutions, await _host.Database.ScalarAsync<long>("select count(*) from executions where tenant_id = $1", b.TenantId));
        Assert.Empty(await Api.DequeueAsync(worker, b.TenantId, limit: 10));
    }

    [Theory]
    [InlineData("/executions/dlq/retry")]
    [InlineData("/executions/dlq/purge")]
    public async Task A_malformed_body_is_400_and_changes_nothing(string path)
    {
        using var worker = _host.WorkerClient();
        var (tenant, client) = await _host.TenantClientAsync();
        var jobId = await Api.CreateJobAsync(client, maxAttempts: 1);
        var failed = await DeadLetterAsync(client, worker, tenant.TenantId, jobId);

        foreach (var body in new[] { """{"job_id": "not-a-uuid"}""", """{"jobid": "x"}""", """{"job_id": """ })
        {
            using var response = await client.PostAsync(path, Api.RawJson(body));
            await Api.AssertErrorAsync(response, HttpStatusCode.BadRequest);
        }

        Assert.Equal(failed, Assert.Single(await DlqAsync(client)).ExecutionId);
        Assert.Equal(1L, await _host.Database.ScalarAsync<long>("select count(*) from executions where tenant_id = $1", tenant.TenantId));
    }
}
