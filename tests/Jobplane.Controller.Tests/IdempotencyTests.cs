using System.Net;
using System.Text.Json;
using Jobplane.Api;
using Jobplane.Testing;

namespace Jobplane.Controller.Tests;

/// <summary>The Idempotency-Key header on POST /jobs/{id}/run: a retried request never runs the job twice.</summary>
public sealed class IdempotencyTests(ControllerFixture fixture) : IClassFixture<ControllerFixture>
{
    private readonly ControllerHost _host = fixture.Host;

    private static string NewKey() => $"order-{Guid.NewGuid():N}";

    private Task<long> ExecutionCountAsync(Guid jobId) =>
        _host.Database.ScalarAsync<long>("select count(*) from executions where job_id = $1", jobId);

    [Fact]
    public async Task The_first_request_is_201_and_a_repeat_is_200_with_the_same_execution_replayed()
    {
        var (_, client) = await _host.TenantClientAsync();
        var jobId = await Api.CreateJobAsync(client);
        var key = NewKey();

        using var first = await Api.RunWithKeyAsync(client, jobId, key);
        var firstText = await first.Content.ReadAsStringAsync();
        Assert.True(first.StatusCode == HttpStatusCode.Created, firstText);
        Guid executionId;
        using (var doc = JsonDocument.Parse(firstText))
        {
            executionId = doc.RootElement.GetProperty("execution_id").GetGuid();
            Assert.Equal("PENDING", doc.RootElement.GetProperty("status").GetString());
            Assert.False(doc.RootElement.TryGetProperty("replayed", out var r) && r.ValueKind == JsonValueKind.True, firstText);
        }

        using var repeat = await Api.RunWithKeyAsync(client, jobId, key);
        var repeatText = await repeat.Content.ReadAsStringAsync();
        Assert.True(repeat.StatusCode == HttpStatusCode.OK, repeatText);
        using (var doc = JsonDocument.Parse(repeatText))
        {
            Assert.Equal(executionId, doc.RootElement.GetProperty("execution_id").GetGuid());
            Assert.True(doc.RootElement.GetProperty("replayed").GetBoolean());
            Assert.Equal("PENDING", doc.RootElement.GetProperty("status").GetString());
        }
        Assert.Equal(1L, await ExecutionCountAsync(jobId));

        // A run without the key is a new execution, as always.
        var plain = await Api.RunAsync(client, jobId);
        Assert.NotEqual(executionId, plain.ExecutionId);
        Assert.Equal(2L, await ExecutionCountAsync(jobId));
    }

    [Fact]
    public async Task A_replay_after_the_execution_moved_on_reports_its_current_status()
    {
        using var worker = _host.WorkerClient();
        var (tenant, client) = await _host.TenantClientAsync();
        var jobId = await Api.CreateJobAsync(client);
        var key = NewKey();
        var first = await Api.ReadAsync(await Api.RunWithKeyAsync(client, jobId, key), Api.Json.RunJobResponse, HttpStatusCode.Created);
        var claim = await Api.ClaimAsync(worker, tenant.TenantId, first.ExecutionId);
        Assert.Equal(ExecutionStatus.Succeeded, await Api.ResultAsync(worker, claim.ExecutionId, claim.LeaseToken, 0));

        var replay = await Api.ReadAsync(await Api.RunWithKeyAsync(client, jobId, key), Api.Json.RunJobResponse);

        Assert.Equal(first.ExecutionId, replay.ExecutionId);
        Assert.Equal(ExecutionStatus.Succeeded, replay.Status);
        Assert.True(replay.Replayed);
        Assert.Equal(1L, await ExecutionCountAsync(jobId));
        Assert.Empty(await Api.DequeueAsync(worker, tenant.TenantId));
    }

    [Fact]
    public async Task Twenty_concurrent_requests_with_one_key_create_exactly_one_execution()
    {
        using var worker = _host.WorkerClient();
        var (tenant, client) = await _host.TenantClientAsync();
        var jobId = await Api.CreateJobAsync(client);
        var key = NewKey();

        var responses = await Task.WhenAll(Enumerable.Range(0, 20).Select(_ => Task.Run(async () =>
        {
            using var response = await Api.RunWithKeyAsync(client, jobId, key);
            return (response.StatusCode, Body: await response.Content.ReadAsStringAsync());
        })));

        Assert.All(responses, r => Assert.True(r.StatusCode is HttpStatusCode.Created or HttpStatusCode.OK, $"{(int)r.StatusCode}: {r.Body}"));
        Assert.Single(responses, r => r.StatusCode == HttpStatusCode.Created);
        var runs = responses.Select(r => JsonSerializer.Deserialize(r.Body, Api.Json.RunJobResponse)!).ToList();
        var id = Assert.Single(runs.Select(r => r.ExecutionId).Distinct());
        Assert.Equal(19, runs.Count(r => r.Replayed == true));
        Assert.Equal(1L, await ExecutionCountAsync(jobId));
        Assert.Equal(id, Assert.Single(await Api.DequeueAsync(worker, tenant.TenantId, limit: 10)).ExecutionId);
    }

    [Fact]
    public async Task The_same_key_from_another_tenant_creates_its_own_execution()
    {
        var (_, clientA) = await _host.TenantClientAsync();
        var (_, clientB) = await _host.TenantClientAsync();
        var jobA = await Api.CreateJobAsync(clientA);
        var jobB = await Api.CreateJobAsync(clientB);
        var key = NewKey();

        var a = await Api.ReadAsync(await Api.RunWithKeyAsync(clientA, jobA, key), Api.Json.RunJobResponse, HttpStatusCode.Created);
        var b = await Api.ReadAsync(await Api.RunWithKeyAsync(clientB, jobB, key), Api.Json.RunJobResponse, HttpStatusCode.Created);

        Assert.NotEqual(a.ExecutionId, b.ExecutionId);
        Assert.Equal(1L, await ExecutionCountAsync(jobA));
        Assert.Equal(1L, await ExecutionCountAsync(jobB));
        Assert.Equal(b.ExecutionId, (await Api.ReadAsync(await Api.RunWithKeyAsync(clientB, jobB, key), Api.Json.RunJobResponse)).ExecutionId);
        // A's job stays 404 to B, with a key too.
        await Api.AssertErrorAsync(await Api.RunWithKeyAsync(clientB, jobA, NewKey()), HttpStatusCode.NotFound, ErrorCodes.NotFound);
        Assert.Equal(1L, await ExecutionCountAsync(jobA));
    }

    [Fact]
    public async Task The_same_key_for_another_job_of_the_tenant_is_409()
    {
        var (_, client) = await _host.TenantClientAsync();
        var jobId = await Api.CreateJobAsync(client);
        var otherJob = await Api.CreateJobAsync(client);
        var key = NewKey();
        var first = await Api.ReadAsync(await Api.RunWithKeyAsync(client, jobId, key), Api.Json.RunJobResponse, HttpStatusCode.Created);

        using var response = await Api.RunWithKeyAsync(client, otherJob, key);

        var error = await Api.AssertErrorAsync(response, HttpStatusCode.Conflict, ErrorCodes.Conflict);
        Assert.Contains("Idempotency-Key", error.Error);
        Assert.Equal(0L, await ExecutionCountAsync(otherJob));
        Assert.Equal(first.ExecutionId, (await Api.ReadAsync(await Api.RunWithKeyAsync(client, jobId, key), Api.Json.RunJobResponse)).ExecutionId);
    }

    [Fact]
    public async Task A_key_older_than_24_hours_no_longer_replays()
    {
        var (tenant, client) = await _host.TenantClientAsync();
        var jobId = await Api.CreateJobAsync(client);
        var key = NewKey();
        var first = await Api.ReadAsync(await Api.RunWithKeyAsync(client, jobId, key), Api.Json.RunJobResponse, HttpStatusCode.Created);
        await Api.ExecSqlAsync(_host, "update idempotency_keys set created_at = now() - interval '25 hours' where tenant_id = $1", tenant.TenantId);

        // (The controller's maintenance may delete the old key first; either way it no longer replays.)
        var second = await Api.ReadAsync(await Api.RunWithKeyAsync(client, jobId, key), Api.Json.RunJobResponse, HttpStatusCode.Created);

        Assert.NotEqual(first.ExecutionId, second.ExecutionId);
        Assert.NotEqual(true, second.Replayed);
        Assert.Equal(2L, await ExecutionCountAsync(jobId));
        var third = await Api.ReadAsync(await Api.RunWithKeyAsync(client, jobId, key), Api.Json.RunJobResponse);
        Assert.Equal(second.ExecutionId, third.ExecutionId);
        Assert.True(third.Replayed);
    }

    [Fact]
    public async Task The_controllers_maintenance_forgets_keys_older_than_24_hours()
    {
        var (tenant, client) = await _host.TenantClientAsync();
        var jobId = await Api.CreateJobAsync(client);
        var oldKey = NewKey();
        var freshKey = NewKey();
        await Api.ReadAsync(await Api.RunWithKeyAsync(client, jobId, oldKey), Api.Json.RunJobResponse, HttpStatusCode.Created);
        await Api.ReadAsync(await Api.RunWithKeyAsync(client, jobId, freshKey), Api.Json.RunJobResponse, HttpStatusCode.Created);
        await Api.ExecSqlAsync(_host, "update idempotency_keys set created_at = now() - interval '25 hours' where tenant_id = $1 and key = $2",
            tenant.TenantId, oldKey);

        // Maintenance runs every 100 ms here; wait (bounded) for it to sweep.
        var remaining = 1L;
        for (var i = 0; i < 200 && remaining > 0; i++)
        {
            remaining = await _host.Database.ScalarAsync<long>("select count(*) from idempotency_keys where tenant_id = $1 and key = $2", tenant.TenantId, oldKey);
            if (remaining > 0) await Task.Delay(50);
        }

        Assert.Equal(0L, remaining);
        Assert.Equal(1L, await _host.Database.ScalarAsync<long>(
            "select count(*) from idempotency_keys where tenant_id = $1 and key = $2", tenant.TenantId, freshKey));
        Assert.Equal(2L, await ExecutionCountAsync(jobId));
    }

    public static TheoryData<string, string> BadKeys => new()
    {
        { "256 characters", new string('k', 256) },
        { "a control character", "abc\u0001def" },
        { "a tab", "abc\tdef" },
        { "a DEL", "abc\u007fdef" },
    };

    [Theory]
    [MemberData(nameof(BadKeys))]
    public async Task A_bad_key_is_400_naming_the_header_and_runs_nothing(string label, string key)
    {
        var (_, client) = await _host.TenantClientAsync();
        var jobId = await Api.CreateJobAsync(client);

        using var response = await Api.RunWithKeyAsync(client, jobId, key);

        var error = await Api.AssertErrorAsync(response, HttpStatusCode.BadRequest, ErrorCodes.InvalidArgument);
        Assert.True(error.Error.Contains("Idempotency-Key", StringComparison.Ordinal), $"{label}: {error.Error}");
        Assert.Equal(0L, await ExecutionCountAsync(jobId));
        Assert.Equal(0L, await _host.Database.ScalarAsync<long>("select count(*) from idempotency_keys where job_id = $1", jobId));
    }

    [Fact]
    public async Task A_key_of_255_printable_characters_is_accepted()
    {
        var (_, client) = await _host.TenantClientAsync();
        var jobId = await Api.CreateJobAsync(client);
        var key = new string('k', 250) + "-_.~!";

        var first = await Api.ReadAsync(await Api.RunWithKeyAsync(client, jobId, key), Api.Json.RunJobResponse, HttpStatusCode.Created);
        var again = await Api.ReadAsync(await Api.RunWithKeyAsync(client, jobId, key), Api.Json.RunJobResponse);

        Assert.Equal(first.ExecutionId, again.ExecutionId);
        Assert.Equal(1L, await ExecutionCountAsync(jobId));
    }
}
