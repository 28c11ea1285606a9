using System.Net;
using System.Net.Http.Json;
using Jobplane.Api;
using Jobplane.Testing;

namespace Jobplane.Controller.Tests;

/// <summary>Credentials with a lifecycle, tenant administration and suspension, seen through the API of two replicas.</summary>
public sealed class TenancyApiTests(TwoReplicas replicas) : IClassFixture<TwoReplicas>
{
    private ControllerHost First => replicas.First;
    private ControllerHost Second => replicas.Second;

    [Fact]
    public async Task A_revoked_key_gets_401_on_the_next_request_to_any_replica()
    {
        var (tenant, viaFirst) = await First.TenantClientAsync();
        var created = await Api.ReadAsync(await viaFirst.PostAsync("/api-keys", Api.RawJson("""{"name": "deploy"}""")),
            Api.Json.CreateApiKeyResponse, HttpStatusCode.Created);
        Assert.Equal("deploy", created.Name);
        using var newKeyOnSecond = Second.Client(created.ApiKey);
        Assert.Equal(HttpStatusCode.OK, (await newKeyOnSecond.GetAsync("/jobs")).StatusCode);

        // Listed with prefix, name and dates, never the secret.
        var listText = await (await viaFirst.GetAsync("/api-keys")).Content.ReadAsStringAsync();
        Assert.DoesNotContain(created.ApiKey, listText);
        var list = System.Text.Json.JsonSerializer.Deserialize(listText, Api.Json.ApiKeyList)!;
        Assert.Equal(["default", "deploy"], list.ApiKeys.Select(k => k.Name));
        Assert.Equal(created.Prefix, list.ApiKeys[1].Prefix);

        Assert.Equal(HttpStatusCode.NoContent, (await viaFirst.DeleteAsync($"/api-keys/{created.Id}")).StatusCode);
        await Api.AssertErrorAsync(await newKeyOnSecond.GetAsync("/jobs"), HttpStatusCode.Unauthorized, ErrorCodes.Unauthorized);
        using var newKeyOnFirst = First.Client(created.ApiKey);
        await Api.AssertErrorAsync(await newKeyOnFirst.GetAsync("/jobs"), HttpStatusCode.Unauthorized);
        Assert.Equal(HttpStatusCode.OK, (await viaFirst.GetAsync("/jobs")).StatusCode);

        // The administrator can revoke a tenant's key too, e.g. the leaked original.
        using var admin = Second.AdminClient();
        var keys = await Api.ReadAsync(await admin.GetAsync($"/tenants/{tenant.TenantId}/api-keys"), Api.Json.ApiKeyList);
        var original = keys.ApiKeys.Single(k => k.Name == "default");
        Assert.Equal(HttpStatusCode.NoContent, (await admin.DeleteAsync($"/tenants/{tenant.TenantId}/api-keys/{original.Id}")).StatusCode);
        await Api.AssertErrorAsync(await viaFirst.GetAsync("/jobs"), HttpStatusCode.Unauthorized);
    }

    [Fact]
    public async Task A_submission_on_a_recently_verified_key_still_fails_at_once_after_revocation_or_suspension()
    {
        // Submissions may be admitted on a key this replica verified seconds ago: their insert checks
        // the key again. Warm the second replica, then change things through the first.
        var (tenant, viaFirst) = await First.TenantClientAsync();
        var created = await Api.ReadAsync(await viaFirst.PostAsync("/api-keys", Api.RawJson("""{"name": "ci"}""")),
            Api.Json.CreateApiKeyResponse, HttpStatusCode.Created);
        using var viaSecond = Second.Client(created.ApiKey);
        var jobId = await Api.CreateJobAsync(viaSecond);
        for (var i = 0; i < 3; i++) await Api.RunAsync(viaSecond, jobId);
        // Another tenant's job is still 404 on the fast path.
        var (_, other) = await First.TenantClientAsync();
        var othersJob = await Api.CreateJobAsync(other);
        await Api.AssertErrorAsync(await viaSecond.PostAsync($"/jobs/{othersJob}/run", null), HttpStatusCode.NotFound);

        using var admin = First.AdminClient();
        Assert.Equal(HttpStatusCode.OK, (await admin.PostAsync($"/tenants/{tenant.TenantId}/suspend", null)).StatusCode);
        await Api.AssertErrorAsync(await viaSecond.PostAsync($"/jobs/{jobId}/run", null), HttpStatusCode.Forbidden, ErrorCodes.TenantSuspended);
        Assert.Equal(HttpStatusCode.OK, (await admin.PostAsync($"/tenants/{tenant.TenantId}/resume", null)).StatusCode);
        await Api.RunAsync(viaSecond, jobId);

        Assert.Equal(HttpStatusCode.NoContent, (await viaFirst.DeleteAsync($"/api-keys/{created.Id}")).StatusCode);
        await Api.AssertErrorAsync(await viaSecond.PostAsync($"/jobs/{jobId}/run", null), HttpStatusCode.Unauthorized, ErrorCodes.Unauthorized);
        await Api.AssertErrorAsync(await viaSecond.PostAsync($"/jobs/{jobId}/run", null), HttpStatusCode.Unauthorized, ErrorCodes.Unauthorized);

        // Four runs were accepted; nothing was created while suspended or after the revocation.
        var executions = await Api.ReadAsync(await viaFirst.GetAsync($"/executions?job_id={jobId}&limit=100"), Api.Json.ExecutionList);
        Assert.Equal(4, executions.Executions.Count);
    }

    [Fact]
    public async Task A_tenant_cannot_see_or_revoke_another_tenants_keys()
    {
        var (a, aClient) = await First.TenantClientAsync();
        var (_, bClient) = await First.TenantClientAsync();
        var aKeys = await Api.ReadAsync(await aClient.GetAsync("/api-keys"), Api.Json.ApiKeyList);
        var bKeys = await Api.ReadAsync(await bClient.GetAsync("/api-keys"), Api.Json.ApiKeyList);
        Assert.DoesNotContain(bKeys.ApiKeys, k => aKeys.ApiKeys.Any(x => x.Id == k.Id));
        await Api.AssertErrorAsync(await bClient.DeleteAsync($"/api-keys/{aKeys.ApiKeys[0].Id}"), HttpStatusCode.NotFound);
        Assert.Equal(HttpStatusCode.OK, (await aClient.GetAsync("/jobs")).StatusCode);
        // A tenant key is not an administrator credential.
        await Api.AssertErrorAsync(await aClient.GetAsync($"/tenants/{a.TenantId}"), HttpStatusCode.Unauthorized);
    }

    [Fact]
    public async Task Issued_worker_credentials_can_be_restricted_to_tenants_and_revoked()
    {
        var (a, aClient) = await First.TenantClientAsync();
        var (b, bClient) = await First.TenantClientAsync();
        var aRun = await Api.RunAsync(aClient, await Api.CreateJobAsync(aClient));
        var bRun = await Api.RunAsync(bClient, await Api.CreateJobAsync(bClient));

        using var admin = First.AdminClient();
        var credential = await Api.ReadAsync(await admin.PostAsync("/worker-credentials",
            Api.RawJson($$"""{"name": "team-a", "tenant_ids": ["{{a.TenantId}}"]}""")), Api.Json.CreateWorkerCredentialResponse, HttpStatusCode.Created);
        using var worker = Second.Client(credential.Token);

        // Asking for both tenants (or none) still only ever yields A's work.
        var claimed = await Dequeue(worker, [a.TenantId, b.TenantId]);
        Assert.Equal([aRun.ExecutionId], claimed.Select(c => c.ExecutionId));
        Assert.Empty(await Dequeue(worker, null));
        Assert.Empty(await Dequeue(worker, [b.TenantId]));
        // The shared WORKER_TOKEN serves everyone.
        using var fleet = First.WorkerClient();
        Assert.Equal([bRun.ExecutionId], (await Dequeue(fleet, [b.TenantId])).Select(c => c.ExecutionId));

        // Even holding B's real lease token, the credential restricted to A cannot touch B's execution.
        var bSecond = await Api.RunAsync(bClient, await Api.CreateJobAsync(bClient));
        var bLease = Assert.Single(await Dequeue(fleet, [b.TenantId]));
        Assert.Equal(bSecond.ExecutionId, bLease.ExecutionId);
        var token = bLease.LeaseToken;
        await Api.AssertErrorAsync(await worker.PutAsync($"/internal/executions/{bLease.ExecutionId}/heartbeat",
            Api.RawJson($$"""{"lease_token": "{{token}}"}""")), HttpStatusCode.NotFound);
        await Api.AssertErrorAsync(await worker.PostAsync($"/internal/executions/{bLease.ExecutionId}/logs",
            Api.RawJson($$"""{"content": "x", "lease_token": "{{token}}"}""")), HttpStatusCode.NotFound);
        await Api.AssertErrorAsync(await worker.PutAsync($"/internal/executions/{bLease.ExecutionId}/result",
            Api.RawJson($$"""{"exit_code": 0, "lease_token": "{{token}}"}""")), HttpStatusCode.NotFound);
        await Api.AssertErrorAsync(await worker.PostAsync($"/internal/executions/{bLease.ExecutionId}/release",
            Api.RawJson($$"""{"lease_token": "{{token}}"}""")), HttpStatusCode.NotFound);
        var batch = await Api.ReadAsync(await worker.PostAsync("/internal/results",
            Api.RawJson($$"""{"results": [{"execution_id": "{{bLease.ExecutionId}}", "exit_code": 0, "lease_token": "{{token}}"}]}""")),
            Api.Json.ResultBatchResponse);
        Assert.Equal(ResultAnswers.NotFound, Assert.Single(batch.Results).Outcome);
        var beat = await Api.ReadAsync(await worker.PostAsync("/internal/heartbeats",
            Api.RawJson($$"""{"leases": [{"execution_id": "{{bLease.ExecutionId}}", "lease_token": "{{token}}"}, {"execution_id": "{{claimed[0].ExecutionId}}", "lease_token": "{{claimed[0].LeaseToken}}"}]}""")),
            Api.Json.WorkerHeartbeatResponse);
        Assert.Equal([bLease.ExecutionId], beat.Lost);
        Assert.Equal([claimed[0].ExecutionId], beat.Extended);
        // B's execution is untouched: still running under the fleet worker's lease, which still works.
        Assert.Equal(ExecutionStatus.Running, (await Api.GetExecutionAsync(bClient, bLease.ExecutionId)).Status);
        Assert.Equal(HttpStatusCode.OK, (await fleet.PutAsync($"/internal/executions/{bLease.ExecutionId}/result",
            Api.RawJson($$"""{"exit_code": 0, "lease_token": "{{token}}"}"""))).StatusCode);

        var listed = await Api.ReadAsync(await admin.GetAsync("/worker-credentials"), Api.Json.WorkerCredentialList);
        Assert.Equal([a.TenantId], listed.WorkerCredentials.Single(c => c.Id == credential.Id).TenantIds!);
        Assert.Equal(HttpStatusCode.NoContent, (await admin.DeleteAsync($"/worker-credentials/{credential.Id}")).StatusCode);
        var refused = await worker.PostAsync("/internal/executions/dequeue", Api.RawJson("""{"limit": 1}"""));
        await Api.AssertErrorAsync(refused, HttpStatusCode.Unauthorized);

        // A credential cannot name a tenant that does not exist.
        await Api.AssertErrorAsync(await admin.PostAsync("/worker-credentials",
            Api.RawJson($$"""{"name": "x", "tenant_ids": ["{{Guid.NewGuid()}}"]}""")), HttpStatusCode.BadRequest);
    }

    [Fact]
    public async Task A_suspended_tenant_keeps_its_queue_can_read_and_cancel_but_nothing_new_runs()
    {
        var (tenant, client) = await First.TenantClientAsync();
        var job = await Api.CreateJobAsync(client);
        var queued = await Api.RunAsync(client, job);
        using var admin = Second.AdminClient();
        var view = await Api.ReadAsync(await admin.PostAsync($"/tenants/{tenant.TenantId}/suspend", null), Api.Json.TenantView);
        Assert.True(view.Suspended);
        Assert.Equal(1, view.Ready);

        var refused = await client.PostAsync($"/jobs/{job}/run", null);
        await Api.AssertErrorAsync(refused, HttpStatusCode.Forbidden, ErrorCodes.TenantSuspended);
        await Api.AssertErrorAsync(await client.PostAsync($"/jobs/{job}/runs", Api.RawJson("""{"count": 2}""")), HttpStatusCode.Forbidden);
        using var worker = First.WorkerClient();
        Assert.Empty(await Dequeue(worker, [tenant.TenantId]));
        Assert.Equal(ExecutionStatus.Pending, (await Api.GetExecutionAsync(client, queued.ExecutionId)).Status);

        await Api.ReadAsync(await admin.PostAsync($"/tenants/{tenant.TenantId}/resume", null), Api.Json.TenantView);
        Assert.Equal([queued.ExecutionId], (await Dequeue(worker, [tenant.TenantId])).Select(c => c.ExecutionId));
        Assert.Equal(HttpStatusCode.Created, (await client.PostAsync($"/jobs/{job}/run", null)).StatusCode);

        var audit = await Api.ReadAsync(await admin.GetAsync($"/audit?tenant_id={tenant.TenantId}"), Api.Json.AuditPage);
        Assert.Equal(["tenant.resume", "tenant.suspend", "api_key.create", "tenant.create"], audit.Entries.Select(e => e.Action));
    }

    [Fact]
    public async Task The_administrator_lists_reads_and_changes_tenants()
    {
        var (tenant, client) = await First.TenantClientAsync();
        using var admin = First.AdminClient();
        var patch = await admin.PatchAsync($"/tenants/{tenant.TenantId}",
            Api.RawJson("""{"weight": 5, "allowed_runtimes": ["docker"], "max_concurrent_executions": 3, "rate_limit": 100}"""));
        Assert.Equal(HttpStatusCode.NoContent, patch.StatusCode);
        var view = await Api.ReadAsync(await admin.GetAsync($"/tenants/{tenant.TenantId}"), Api.Json.TenantView);
        Assert.Equal(5, view.Weight);
        Assert.Equal(["docker"], view.AllowedRuntimes!);
        Assert.Equal(3, view.MaxConcurrentExecutions);
        Assert.Equal(100, view.RateLimit);

        await Api.AssertErrorAsync(await admin.PatchAsync($"/tenants/{tenant.TenantId}", Api.RawJson("""{"allowed_runtimes": ["vm"]}""")),
            HttpStatusCode.BadRequest, ErrorCodes.InvalidArgument);
        await Api.AssertErrorAsync(await admin.PatchAsync($"/tenants/{tenant.TenantId}", Api.RawJson("""{"weight": 0}""")), HttpStatusCode.BadRequest);
        await Api.AssertErrorAsync(await admin.GetAsync($"/tenants/{Guid.NewGuid()}"), HttpStatusCode.NotFound);

        var page = await Api.ReadAsync(await admin.GetAsync("/tenants?limit=1000"), Api.Json.TenantList);
        Assert.Contains(page.Tenants, t => t.Id == tenant.TenantId);
        await Api.AssertErrorAsync(await admin.GetAsync("/tenants?limit=100000"), HttpStatusCode.BadRequest);
        _ = client;
    }

    [Fact]
    public async Task A_batch_run_creates_many_executions_in_one_request()
    {
        var (_, client) = await First.TenantClientAsync();
        var job = await Api.CreateJobAsync(client);
        var batch = await Api.ReadAsync(await client.PostAsync($"/jobs/{job}/runs", Api.RawJson("""{"count": 500, "priority": "high"}""")),
            Api.Json.BatchRunResponse, HttpStatusCode.Created);
        Assert.Equal(500, batch.ExecutionIds.Distinct().Count());
        Assert.Equal(ExecutionStatus.Pending, batch.Status);
        var one = await Api.GetExecutionAsync(client, batch.ExecutionIds[499]);
        Assert.Equal(75, one.Priority.Value);

        var later = await Api.ReadAsync(await client.PostAsync($"/jobs/{job}/runs",
            Api.RawJson($$"""{"count": 2, "scheduled_at": "{{DateTimeOffset.UtcNow.AddHours(1):O}}"}""")), Api.Json.BatchRunResponse, HttpStatusCode.Created);
        Assert.Equal(ExecutionStatus.Scheduled, later.Status);

        foreach (var bad in new[] { """{"count": 0}""", """{"count": 10001}""", "{}", """{"count": "5"}""" })
            await Api.AssertErrorAsync(await client.PostAsync($"/jobs/{job}/runs", Api.RawJson(bad)), HttpStatusCode.BadRequest);
        var (_, other) = await First.TenantClientAsync();
        await Api.AssertErrorAsync(await other.PostAsync($"/jobs/{job}/runs", Api.RawJson("""{"count": 1}""")), HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task Bodies_over_a_routes_limit_are_refused_with_413_naming_the_limit()
    {
        using var admin = First.AdminClient();
        var huge = $$"""{"name": "{{new string('x', 20_000)}}"}""";
        var error = await Api.AssertErrorAsync(await admin.PostAsync("/tenants", Api.RawJson(huge)), HttpStatusCode.RequestEntityTooLarge,
            ErrorCodes.PayloadTooLarge);
        Assert.Contains("16 KiB", error.Error);
    }

    private static async Task<IReadOnlyList<ClaimedExecution>> Dequeue(HttpClient worker, Guid[]? tenants)
    {
        var response = await worker.PostAsJsonAsync("/internal/executions/dequeue",
            new DequeueRequest { Limit = 10, TenantIds = tenants, WorkerId = "w" }, Api.Json.DequeueRequest);
        return (await Api.ReadAsync(response, Api.Json.DequeueResponse)).Executions;
    }
}
