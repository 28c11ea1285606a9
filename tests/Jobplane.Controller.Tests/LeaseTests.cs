using System.Net.Http.Json;
using System.Text.Json;
using Jobplane.Api;
using Jobplane.Testing;

namespace Jobplane.Controller.Tests;

/// <summary>A controller whose lease (HEARTBEAT_VISIBILITY_EXTENSION) is not the default, so answers must carry the configured one.</summary>
public sealed class LeaseFixture : IAsyncLifetime
{
    public const double LeaseSeconds = 45;

    public ControllerHost Host { get; } = new(new Dictionary<string, string?>
    {
        ["HEARTBEAT_VISIBILITY_EXTENSION"] = $"{LeaseSeconds}s",
    });

    public Task InitializeAsync() => Host.InitializeAsync();

    public Task DisposeAsync() => Host.DisposeAsync();
}

/// <summary>The lease length workers are told, and which heartbeats really extend a lease.</summary>
public sealed class LeaseTests(LeaseFixture fixture) : IClassFixture<LeaseFixture>
{
    private readonly ControllerHost _host = fixture.Host;

    private Task<DateTime> LeaseExpiresAtAsync(Guid id) =>
        _host.Database.ScalarAsync<DateTime>("select lease_expires_at from executions where id = $1", id);

    private async Task<JsonElement> BatchHeartbeatAsync(HttpClient worker, params ClaimedExecution[] claims)
    {
        var request = new WorkerHeartbeatRequest { WorkerId = "test-worker", Leases = [.. claims.Select(c => new LeaseRef(c.ExecutionId, c.LeaseToken))] };
        using var response = await worker.PostAsJsonAsync("/internal/heartbeats", request, Api.Json.WorkerHeartbeatRequest);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, text);
        using var doc = JsonDocument.Parse(text);
        return doc.RootElement.Clone();
    }

    private async Task<HeartbeatResponse> HeartbeatAsync(HttpClient worker, ClaimedExecution claim) =>
        await Api.ReadAsync(await worker.PutAsync($"/internal/executions/{claim.ExecutionId}/heartbeat",
            Api.RawJson($$"""{"lease_token": "{{claim.LeaseToken}}"}""")), Api.Json.HeartbeatResponse);

    [Fact]
    public async Task Dequeue_answers_carry_the_configured_lease_length_and_grant_it()
    {
        using var worker = _host.WorkerClient();
        var (tenant, client) = await _host.TenantClientAsync();

        // An empty answer says it too.
        var emptyRequest = new DequeueRequest { Limit = 1, TenantIds = [tenant.TenantId], WorkerId = "test-worker" };
        using (var empty = await worker.PostAsJsonAsync("/internal/executions/dequeue", emptyRequest, Api.Json.DequeueRequest))
        using (var doc = JsonDocument.Parse(await empty.Content.ReadAsStringAsync()))
        {
            Assert.Empty(doc.RootElement.GetProperty("executions").EnumerateArray());
            Assert.Equal(LeaseFixture.LeaseSeconds, doc.RootElement.GetProperty("lease_seconds").GetDouble());
        }

        var jobId = await Api.CreateJobAsync(client);
        var run = await Api.RunAsync(client, jobId);
        using var response = await worker.PostAsJsonAsync("/internal/executions/dequeue", emptyRequest, Api.Json.DequeueRequest);
        var text = await response.Content.ReadAsStringAsync();
        using var answer = JsonDocument.Parse(text);
        Assert.Equal(LeaseFixture.LeaseSeconds, answer.RootElement.GetProperty("lease_seconds").GetDouble());
        var claim = Assert.Single(JsonSerializer.Deserialize(text, Api.Json.DequeueResponse)!.Executions);
        Assert.Equal(run.ExecutionId, claim.ExecutionId);

        // The lease granted is that long: started_at and lease_expires_at come from one statement's now().
        var view = await Api.GetExecutionAsync(client, run.ExecutionId);
        Assert.Equal(TimeSpan.FromSeconds(LeaseFixture.LeaseSeconds), claim.LeaseExpiresAt - view.StartedAt!.Value);
    }

    [Fact]
    public async Task Heartbeats_on_a_fresh_lease_confirm_it_without_rewriting_it()
    {
        using var worker = _host.WorkerClient();
        var (_, _, _, claim) = await Api.RunningAsync(_host, worker);
        var before = await LeaseExpiresAtAsync(claim.ExecutionId);

        var batch = await BatchHeartbeatAsync(worker, claim);
        var single = await HeartbeatAsync(worker, claim);

        Assert.Equal([claim.ExecutionId], batch.GetProperty("extended").EnumerateArray().Select(e => e.GetGuid()));
        Assert.Empty(batch.GetProperty("lost").EnumerateArray());
        Assert.Empty(batch.GetProperty("cancelled").EnumerateArray());
        Assert.Equal(LeaseFixture.LeaseSeconds, batch.GetProperty("lease_seconds").GetDouble());
        Assert.Equal(ExecutionStatus.Running, single.Status);
        Assert.Equal(claim.LeaseExpiresAt, single.LeaseExpiresAt);
        Assert.Equal(before, await LeaseExpiresAtAsync(claim.ExecutionId));
    }

    [Fact]
    public async Task Heartbeats_on_an_aging_lease_extend_it_to_a_full_lease()
    {
        using var worker = _host.WorkerClient();
        var (_, _, _, claim) = await Api.RunningAsync(_host, worker);
        // Two thirds of the lease used: due for an extension.
        await Api.ExecSqlAsync(_host, "update executions set lease_expires_at = now() + interval '15 seconds' where id = $1", claim.ExecutionId);
        var aging = await LeaseExpiresAtAsync(claim.ExecutionId);

        var single = await HeartbeatAsync(worker, claim);

        var after = await LeaseExpiresAtAsync(claim.ExecutionId);
        Assert.True(after > aging, $"lease should move forward: {aging:O} -> {after:O}");
        Assert.Equal(after, single.LeaseExpiresAt.UtcDateTime);
        Assert.True(await _host.Database.ScalarAsync<bool>(
            "select lease_expires_at > now() + interval '30 seconds' from executions where id = $1", claim.ExecutionId));

        // The same through the batch heartbeat.
        await Api.ExecSqlAsync(_host, "update executions set lease_expires_at = now() + interval '15 seconds' where id = $1", claim.ExecutionId);
        aging = await LeaseExpiresAtAsync(claim.ExecutionId);
        var batch = await BatchHeartbeatAsync(worker, claim);
        Assert.Equal([claim.ExecutionId], batch.GetProperty("extended").EnumerateArray().Select(e => e.GetGuid()));
        Assert.True(await LeaseExpiresAtAsync(claim.ExecutionId) > aging);
    }

    [Fact]
    public async Task A_batch_heartbeat_sorts_held_lost_and_cancelled_leases()
    {
        using var worker = _host.WorkerClient();
        var (tenant, client) = await _host.TenantClientAsync();
        var jobId = await Api.CreateJobAsync(client);
        var runs = new List<Guid>();
        for (var i = 0; i < 3; i++) runs.Add((await Api.RunAsync(client, jobId)).ExecutionId);
        var claims = await Api.DequeueAsync(worker, tenant.TenantId, limit: 3);
        Assert.Equal(3, claims.Count);
        var (kept, cancelled, finished) = (claims[0], claims[1], claims[2]);
        Assert.Equal(ExecutionStatus.Running, (await Api.CancelAsync(client, cancelled.ExecutionId)).Status);
        Assert.Equal(ExecutionStatus.Succeeded, await Api.ResultAsync(worker, finished.ExecutionId, finished.LeaseToken, 0));

        var batch = await BatchHeartbeatAsync(worker, kept, cancelled, finished);

        Assert.Equal(new[] { kept.ExecutionId, cancelled.ExecutionId }.Order(),
            batch.GetProperty("extended").EnumerateArray().Select(e => e.GetGuid()).Order());
        Assert.Equal([cancelled.ExecutionId], batch.GetProperty("cancelled").EnumerateArray().Select(e => e.GetGuid()));
        Assert.Equal([finished.ExecutionId], batch.GetProperty("lost").EnumerateArray().Select(e => e.GetGuid()));
        Assert.Equal(LeaseFixture.LeaseSeconds, batch.GetProperty("lease_seconds").GetDouble());
    }
}
