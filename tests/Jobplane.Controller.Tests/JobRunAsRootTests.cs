using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Jobplane.Api;
using Jobplane.Testing;

namespace Jobplane.Controller.Tests;

/// <summary>
/// A job's request to run as root over HTTP: stored and shown back, and handed to the worker at
/// claim time as it is (the worker's operator decides whether it may), left out when not asked.
/// </summary>
public sealed class JobRunAsRootTests(ControllerFixture fixture) : IClassFixture<ControllerFixture>
{
    private readonly ControllerHost _host = fixture.Host;

    [Fact]
    public async Task Run_as_root_round_trips_through_create_get_and_list_and_a_repost_without_it_clears_it()
    {
        var (_, client) = await _host.TenantClientAsync();
        var name = $"root-{Guid.NewGuid():N}";

        // No tenant permission is needed to ask: the worker's operator is the gate.
        var jobId = await Api.CreateJobAsync(client, name, extra: "\"run_as_root\": true");

        var raw = await client.GetStringAsync($"/jobs/{jobId}");
        using (var doc = JsonDocument.Parse(raw))
        {
            Assert.True(doc.RootElement.GetProperty("run_as_root").GetBoolean(), raw);
        }
        var listed = (await Api.ReadAsync(await client.GetAsync("/jobs?limit=1000"), Api.Json.JobList)).Jobs.Single(j => j.Id == jobId);
        Assert.True(listed.RunAsRoot);
        Assert.True(await _host.Database.ScalarAsync<bool>("select run_as_root from jobs where id = $1", jobId));

        // Re-posting replaces the definition: run_as_root not given is false.
        using (var plain = await client.PostAsync("/jobs", Api.RawJson($$"""{"name": "{{name}}", "image": "exec"}""")))
        {
            Assert.Equal(HttpStatusCode.OK, plain.StatusCode);
        }
        Assert.False((await Api.ReadAsync(await client.GetAsync($"/jobs/{jobId}"), Api.Json.JobView)).RunAsRoot);
    }

    [Fact]
    public async Task A_job_that_does_not_ask_shows_run_as_root_false()
    {
        var (_, client) = await _host.TenantClientAsync();
        var jobId = await Api.CreateJobAsync(client);

        var raw = await client.GetStringAsync($"/jobs/{jobId}");

        using var doc = JsonDocument.Parse(raw);
        Assert.False(doc.RootElement.GetProperty("run_as_root").GetBoolean(), raw);
    }

    [Fact]
    public async Task Run_as_root_that_is_not_a_boolean_is_refused_400()
    {
        var (_, client) = await _host.TenantClientAsync();

        var response = await client.PostAsync("/jobs", Api.RawJson($$"""{"name": "root-{{Guid.NewGuid():N}}", "image": "exec", "run_as_root": "yes"}"""));

        var error = await Api.AssertErrorAsync(response, HttpStatusCode.BadRequest);
        Assert.Contains("run_as_root", error.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_claim_hands_the_worker_the_request_and_leaves_it_out_when_not_asked()
    {
        using var worker = _host.WorkerClient();
        var (tenant, client) = await _host.TenantClientAsync();
        var rooted = await Api.RunAsync(client, await Api.CreateJobAsync(client, extra: "\"run_as_root\": true"));

        var claimed = await Api.DequeueRawAsync(worker, tenant.TenantId);

        Assert.Equal(rooted.ExecutionId, claimed.GetProperty("execution_id").GetGuid());
        Assert.True(claimed.GetProperty("payload").GetProperty("run_as_root").GetBoolean(), claimed.ToString());
        Assert.True(claimed.GetProperty("payload").Deserialize(Api.Json.ExecutionPayload)!.RunAsRoot);

        // A job not asking: the field is absent, so a worker that predates it reads the payload as before.
        await Api.RunAsync(client, await Api.CreateJobAsync(client));
        var plain = await Api.DequeueRawAsync(worker, tenant.TenantId);
        Assert.False(plain.GetProperty("payload").TryGetProperty("run_as_root", out _), plain.ToString());
    }
}
