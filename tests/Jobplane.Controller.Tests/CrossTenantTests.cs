using System.Net;
using Jobplane.Api;
using Jobplane.Testing;

namespace Jobplane.Controller.Tests;

/// <summary>A tenant can neither see nor touch another tenant's jobs, executions, logs or dead letters.</summary>
public sealed class CrossTenantTests(ControllerFixture fixture) : IClassFixture<ControllerFixture>
{
    private readonly ControllerHost _host = fixture.Host;

    /// <summary>Log lines of one tenant's executions: other tests of the class write logs of their own.</summary>
    private const string LogsOfTenant =
        "select count(*) from execution_logs l join executions e on e.id = l.execution_id where e.tenant_id = $1";

    [Fact]
    public async Task Tenant_B_gets_404_on_every_route_naming_tenant_As_ids_and_changes_nothing()
    {
        using var worker = _host.WorkerClient();
        var (a, clientA) = await _host.TenantClientAsync();
        var (_, clientB) = await _host.TenantClientAsync();

        // A: one job (max_attempts 1) with a finished, a dead-lettered and a pending execution.
        var jobId = await Api.CreateJobAsync(clientA, maxAttempts: 1);
        var finished = await Api.RunAsync(clientA, jobId);
        var claim = await Api.ClaimAsync(worker, a.TenantId, finished.ExecutionId);
        await Api.ShipLogsAsync(worker, claim.ExecutionId, claim.LeaseToken, "secret output of A");
        Assert.Equal(ExecutionStatus.Succeeded, await Api.ResultAsync(worker, claim.ExecutionId, claim.LeaseToken, 0));

        var dead = await Api.RunAsync(clientA, jobId);
        var deadClaim = await Api.ClaimAsync(worker, a.TenantId, dead.ExecutionId);
        Assert.Equal(ExecutionStatus.Failed, await Api.ResultAsync(worker, dead.ExecutionId, deadClaim.LeaseToken, 1));
        var dlq = await Api.ReadAsync(await clientA.GetAsync("/executions/dlq"), Api.Json.IReadOnlyListDlqEntry);
        var dlqId = Assert.Single(dlq).Id;

        var pending = await Api.RunAsync(clientA, jobId);
        Assert.Equal(ExecutionStatus.Pending, pending.Status);

        var executionsBefore = await _host.Database.ScalarAsync<long>("select count(*) from executions where tenant_id = $1", a.TenantId);
        var logsBefore = await _host.Database.ScalarAsync<long>(LogsOfTenant, a.TenantId);

        var routes = new List<(HttpMethod Method, string Path)>
        {
            (HttpMethod.Get, $"/jobs/{jobId}"),
            (HttpMethod.Post, $"/jobs/{jobId}/run"),
        };
        foreach (var e in new[] { finished.ExecutionId, dead.ExecutionId, pending.ExecutionId })
        {
            routes.Add((HttpMethod.Get, $"/executions/{e}"));
            routes.Add((HttpMethod.Get, $"/executions/{e}/attempts"));
            routes.Add((HttpMethod.Get, $"/executions/{e}/logs"));
            routes.Add((HttpMethod.Get, $"/executions/{e}/logs?follow=true"));
        }
        routes.Add((HttpMethod.Post, $"/executions/dlq/{dlqId}/retry"));
        routes.Add((HttpMethod.Post, $"/executions/dlq/{dead.ExecutionId}/retry"));

        var failures = new List<string>();
        foreach (var (method, path) in routes)
        {
            using var response = await clientB.SendAsync(Api.Request(method, path));
            try
            {
                var error = await Api.AssertErrorAsync(response, HttpStatusCode.NotFound, ErrorCodes.NotFound);
                Assert.DoesNotContain("secret output", error.Error, StringComparison.Ordinal);
            }
            catch (Exception ex)
            {
                failures.Add($"{method} {path}: {ex.Message}");
            }
        }
        Assert.True(failures.Count == 0, string.Join("\n", failures));

        // B's lists hold none of A's items.
        var jobsB = await Api.ReadAsync(await clientB.GetAsync("/jobs"), Api.Json.JobList);
        Assert.Empty(jobsB.Jobs);
        var executionsB = await Api.ReadAsync(await clientB.GetAsync("/executions"), Api.Json.ExecutionList);
        Assert.Empty(executionsB.Executions);
        var filteredB = await Api.ReadAsync(await clientB.GetAsync($"/executions?job_id={jobId}"), Api.Json.ExecutionList);
        Assert.Empty(filteredB.Executions);
        var dlqB = await Api.ReadAsync(await clientB.GetAsync("/executions/dlq"), Api.Json.IReadOnlyListDlqEntry);
        Assert.Empty(dlqB);

        // A's data is as it was: no new execution, the dead letter unretried, the logs untouched.
        Assert.Equal(executionsBefore, await _host.Database.ScalarAsync<long>("select count(*) from executions where tenant_id = $1", a.TenantId));
        Assert.Equal(logsBefore, await _host.Database.ScalarAsync<long>(LogsOfTenant, a.TenantId));
        Assert.Equal(0L, await _host.Database.ScalarAsync<long>(
            "select count(*) from dead_letters where id = $1 and retried_execution_id is not null", dlqId));
        var dlqAfter = await Api.ReadAsync(await clientA.GetAsync("/executions/dlq"), Api.Json.IReadOnlyListDlqEntry);
        Assert.Equal(dlqId, Assert.Single(dlqAfter).Id);
        var executionsA = await Api.ReadAsync(await clientA.GetAsync("/executions"), Api.Json.ExecutionList);
        Assert.Equal(3, executionsA.Executions.Count);

        // A itself still sees everything.
        Assert.Equal(HttpStatusCode.OK, (await clientA.GetAsync($"/jobs/{jobId}")).StatusCode);
        var logsA = await Api.ReadAsync(await clientA.GetAsync($"/executions/{finished.ExecutionId}/logs"), Api.Json.LogPage);
        Assert.Equal("secret output of A", Assert.Single(logsA.Logs).Content);
    }

    [Theory]
    [InlineData("GET", "/jobs/not-a-uuid")]
    [InlineData("POST", "/jobs/not-a-uuid/run")]
    [InlineData("GET", "/executions/not-a-uuid")]
    [InlineData("GET", "/executions/not-a-uuid/attempts")]
    [InlineData("GET", "/executions/not-a-uuid/logs")]
    [InlineData("GET", "/executions/not-a-uuid/logs?follow=true")]
    [InlineData("POST", "/executions/dlq/not-a-uuid/retry")]
    [InlineData("GET", "/executions/12345")]
    public async Task A_non_uuid_id_is_404_not_500(string method, string path)
    {
        var (_, client) = await _host.TenantClientAsync();
        using var response = await client.SendAsync(Api.Request(new HttpMethod(method), path));
        await Api.AssertErrorAsync(response, HttpStatusCode.NotFound, ErrorCodes.NotFound);
    }

    [Theory]
    [InlineData("PUT", "/internal/executions/not-a-uuid/heartbeat")]
    [InlineData("POST", "/internal/executions/not-a-uuid/logs")]
    [InlineData("PUT", "/internal/executions/not-a-uuid/result")]
    [InlineData("POST", "/internal/executions/not-a-uuid/release")]
    public async Task A_non_uuid_id_on_the_worker_api_is_404_not_500(string method, string path)
    {
        using var worker = _host.WorkerClient();
        using var response = await worker.SendAsync(Api.Request(new HttpMethod(method), path,
            $$"""{"lease_token": "{{Guid.NewGuid()}}", "exit_code": 0}"""));
        await Api.AssertErrorAsync(response, HttpStatusCode.NotFound, ErrorCodes.NotFound);
    }
}
