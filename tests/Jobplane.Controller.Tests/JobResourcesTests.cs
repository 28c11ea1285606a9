using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Jobplane.Api;
using Jobplane.Testing;

namespace Jobplane.Controller.Tests;

/// <summary>
/// What a job asks of its container (resources, network) over HTTP: stored and shown back, bounded,
/// network only for tenants the administrator allows it, and handed to the worker at claim time.
/// </summary>
public sealed class JobResourcesTests(ControllerFixture fixture) : IClassFixture<ControllerFixture>
{
    private readonly ControllerHost _host = fixture.Host;

    private async Task SetAllowNetworkAsync(Guid tenantId, bool allow)
    {
        using var admin = _host.AdminClient();
        var response = await admin.PatchAsync($"/tenants/{tenantId}", Api.RawJson($$"""{"allow_network": {{(allow ? "true" : "false")}}}"""));
        Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);
    }

    [Fact]
    public async Task Resources_and_network_round_trip_through_create_get_and_list()
    {
        var (tenant, client) = await _host.TenantClientAsync();
        await SetAllowNetworkAsync(tenant.TenantId, true);
        var name = $"sized-{Guid.NewGuid():N}";

        var jobId = await Api.CreateJobAsync(client, name,
            extra: "\"resources\": {\"memory_mib\": 32, \"cpus\": 0.5, \"pids\": 20}, \"network\": true");

        var raw = await client.GetStringAsync($"/jobs/{jobId}");
        using (var doc = JsonDocument.Parse(raw))
        {
            var resources = doc.RootElement.GetProperty("resources");
            Assert.Equal(32, resources.GetProperty("memory_mib").GetInt32());
            Assert.Equal(0.5, resources.GetProperty("cpus").GetDouble());
            Assert.Equal(20, resources.GetProperty("pids").GetInt32());
            Assert.True(doc.RootElement.GetProperty("network").GetBoolean());
        }
        var listed = (await Api.ReadAsync(await client.GetAsync("/jobs?limit=1000"), Api.Json.JobList)).Jobs.Single(j => j.Id == jobId);
        Assert.Equal(new JobResources { MemoryMib = 32, Cpus = 0.5, Pids = 20 }, listed.Resources);
        Assert.True(listed.Network);
        Assert.Equal(32L << 20, await _host.Database.ScalarAsync<long>("select memory_limit_bytes from jobs where id = $1", jobId));

        // Only some fields: the others stay absent (the worker's defaults).
        using (var partly = await client.PostAsync("/jobs", Api.RawJson($$$"""{"name": "{{{name}}}", "image": "exec", "resources": {"pids": 7}}""")))
        {
            Assert.Equal(HttpStatusCode.OK, partly.StatusCode);
        }
        var view = await Api.ReadAsync(await client.GetAsync($"/jobs/{jobId}"), Api.Json.JobView);
        Assert.Equal(new JobResources { Pids = 7 }, view.Resources);
        // Re-posting replaces the definition: network not given is network false.
        Assert.False(view.Network);

        // Nothing asked: no resources at all, and network false.
        using (var plain = await client.PostAsync("/jobs", Api.RawJson($$$"""{"name": "{{{name}}}", "image": "exec", "resources": {}}""")))
        {
            Assert.Equal(HttpStatusCode.OK, plain.StatusCode);
        }
        var cleared = await client.GetStringAsync($"/jobs/{jobId}");
        using (var doc = JsonDocument.Parse(cleared))
        {
            Assert.False(doc.RootElement.TryGetProperty("resources", out _), cleared);
            Assert.False(doc.RootElement.GetProperty("network").GetBoolean());
        }
    }

    [Fact]
    public async Task A_job_that_asks_for_nothing_shows_no_resources_and_no_network()
    {
        var (_, client) = await _host.TenantClientAsync();
        var jobId = await Api.CreateJobAsync(client);

        var raw = await client.GetStringAsync($"/jobs/{jobId}");

        using var doc = JsonDocument.Parse(raw);
        Assert.False(doc.RootElement.TryGetProperty("resources", out _), raw);
        Assert.False(doc.RootElement.GetProperty("network").GetBoolean());
    }

    public static TheoryData<string, string, string> BadResources => new()
    {
        // label, the resources or network JSON, the field the error must name
        { "memory 5 MiB", "\"resources\": {\"memory_mib\": 5}", "resources.memory_mib" },
        { "memory 0", "\"resources\": {\"memory_mib\": 0}", "resources.memory_mib" },
        { "memory negative", "\"resources\": {\"memory_mib\": -64}", "resources.memory_mib" },
        { "memory over 1 TiB", "\"resources\": {\"memory_mib\": 1048577}", "resources.memory_mib" },
        { "memory fractional", "\"resources\": {\"memory_mib\": 64.5}", "memory_mib" },
        { "memory as a string", "\"resources\": {\"memory_mib\": \"64\"}", "memory_mib" },
        { "cpus 0", "\"resources\": {\"cpus\": 0}", "resources.cpus" },
        { "cpus below 0.01", "\"resources\": {\"cpus\": 0.001}", "resources.cpus" },
        { "cpus negative", "\"resources\": {\"cpus\": -1}", "resources.cpus" },
        { "cpus over 1024", "\"resources\": {\"cpus\": 1024.5}", "resources.cpus" },
        { "cpus huge", "\"resources\": {\"cpus\": 1e308}", "resources.cpus" },
        { "pids 0", "\"resources\": {\"pids\": 0}", "resources.pids" },
        { "pids over a million", "\"resources\": {\"pids\": 1000001}", "resources.pids" },
        { "unknown resource", "\"resources\": {\"gpus\": 1}", "gpus" },
        { "resources not an object", "\"resources\": 64", "resources" },
        { "network as a string", "\"network\": \"yes\"", "network" },
    };

    [Theory]
    [MemberData(nameof(BadResources))]
    public async Task A_bad_request_is_400_naming_the_field_and_changes_nothing(string label, string extra, string field)
    {
        var (tenant, client) = await _host.TenantClientAsync();
        await SetAllowNetworkAsync(tenant.TenantId, true);
        var name = $"bad-{Guid.NewGuid():N}";
        // An existing job of that name, to see that a refused update leaves it as it was.
        await Api.CreateJobAsync(client, name, extra: "\"resources\": {\"memory_mib\": 64}");
        var before = await DbState.SnapshotAsync(_host, tenant.TenantId);

        using var response = await client.PostAsync("/jobs", Api.RawJson($$"""{"name": "{{name}}", "image": "exec", {{extra}}}"""));

        var error = await Api.AssertErrorAsync(response, HttpStatusCode.BadRequest);
        Assert.True(error.Code is ErrorCodes.InvalidArgument or ErrorCodes.InvalidJson, $"{label}: code {error.Code}");
        Assert.True(error.Error.Contains(field, StringComparison.Ordinal), $"{label}: the error should name {field}: {error.Error}");
        Assert.Equal("", DbState.Diff(before, await DbState.SnapshotAsync(_host, tenant.TenantId)));
    }

    [Theory]
    [InlineData(6, 0.01, 1)]
    [InlineData(1048576, 1024, 1000000)]
    public async Task The_bounds_themselves_are_accepted(int memoryMib, double cpus, int pids)
    {
        var (_, client) = await _host.TenantClientAsync();

        var jobId = await Api.CreateJobAsync(client, extra: $$"""
            "resources": {"memory_mib": {{memoryMib}}, "cpus": {{cpus.ToString(System.Globalization.CultureInfo.InvariantCulture)}}, "pids": {{pids}}}
            """);

        var view = await Api.ReadAsync(await client.GetAsync($"/jobs/{jobId}"), Api.Json.JobView);
        Assert.Equal(new JobResources { MemoryMib = memoryMib, Cpus = cpus, Pids = pids }, view.Resources);
    }

    [Fact]
    public async Task Network_is_refused_403_until_the_administrator_allows_it_for_the_tenant()
    {
        var (tenant, client) = await _host.TenantClientAsync();
        using var admin = _host.AdminClient();
        var name = $"net-{Guid.NewGuid():N}";
        var before = await DbState.SnapshotAsync(_host, tenant.TenantId);

        using (var refused = await client.PostAsync("/jobs", Api.RawJson($$"""{"name": "{{name}}", "image": "exec", "network": true}""")))
        {
            var error = await Api.AssertErrorAsync(refused, HttpStatusCode.Forbidden, ErrorCodes.NetworkNotAllowed);
            Assert.Contains("administrator must allow network for the tenant", error.Error, StringComparison.Ordinal);
        }
        Assert.Equal("", DbState.Diff(before, await DbState.SnapshotAsync(_host, tenant.TenantId)));
        // Not asking is fine, and so is saying no explicitly.
        var jobId = await Api.CreateJobAsync(client, name, extra: "\"network\": false");

        // An update of the existing job to ask for network is refused the same way, and leaves it as it was.
        var existing = await DbState.SnapshotAsync(_host, tenant.TenantId);
        using (var refused = await client.PostAsync("/jobs", Api.RawJson($$"""{"name": "{{name}}", "image": "exec", "network": true, "max_attempts": 9}""")))
        {
            await Api.AssertErrorAsync(refused, HttpStatusCode.Forbidden, ErrorCodes.NetworkNotAllowed);
        }
        Assert.Equal("", DbState.Diff(existing, await DbState.SnapshotAsync(_host, tenant.TenantId)));

        Assert.False((await Api.ReadAsync(await admin.GetAsync($"/tenants/{tenant.TenantId}"), Api.Json.TenantView)).AllowNetwork);
        await SetAllowNetworkAsync(tenant.TenantId, true);
        Assert.True((await Api.ReadAsync(await admin.GetAsync($"/tenants/{tenant.TenantId}"), Api.Json.TenantView)).AllowNetwork);

        using (var accepted = await client.PostAsync("/jobs", Api.RawJson($$"""{"name": "{{name}}", "image": "exec", "network": true}""")))
        {
            Assert.Equal(jobId, (await Api.ReadAsync(accepted, Api.Json.CreateJobResponse)).JobId);
        }
        Assert.True((await Api.ReadAsync(await client.GetAsync($"/jobs/{jobId}"), Api.Json.JobView)).Network);
    }

    [Fact]
    public async Task Allow_network_is_set_at_creation_and_changes_are_audited_once()
    {
        using var admin = _host.AdminClient();
        var created = await Api.ReadAsync(await admin.PostAsync("/tenants",
            Api.RawJson($$"""{"name": "open-{{Guid.NewGuid():N}}", "allow_network": true}""")), Api.Json.CreateTenantResponse, HttpStatusCode.Created);
        var tenantId = created.TenantId;
        Assert.True((await Api.ReadAsync(await admin.GetAsync($"/tenants/{tenantId}"), Api.Json.TenantView)).AllowNetwork);
        var listed = await Api.ReadAsync(await admin.GetAsync("/tenants?limit=1000"), Api.Json.TenantList);
        Assert.True(listed.Tenants.Single(t => t.Id == tenantId).AllowNetwork);

        await SetAllowNetworkAsync(tenantId, false);
        // Revoking again, and a change of nothing at all: neither writes anything.
        var before = await DbState.SnapshotAsync(_host, tenantId);
        await SetAllowNetworkAsync(tenantId, false);
        Assert.Equal(HttpStatusCode.NoContent, (await admin.PatchAsync($"/tenants/{tenantId}", Api.RawJson("{}"))).StatusCode);
        Assert.Equal("", DbState.Diff(before, await DbState.SnapshotAsync(_host, tenantId)));

        var audit = await Api.ReadAsync(await admin.GetAsync($"/audit?tenant_id={tenantId}"), Api.Json.AuditPage);
        Assert.Equal(["tenant.update", "api_key.create", "tenant.create"], audit.Entries.Select(e => e.Action));
        Assert.False(audit.Entries[0].Details!.Value.GetProperty("allow_network").GetBoolean());
        Assert.True(audit.Entries[2].Details!.Value.GetProperty("allow_network").GetBoolean());
        Assert.False((await Api.ReadAsync(await admin.GetAsync($"/tenants/{tenantId}"), Api.Json.TenantView)).AllowNetwork);
        await Api.AssertErrorAsync(await admin.PatchAsync($"/tenants/{tenantId}", Api.RawJson("""{"allow_network": "yes"}""")),
            HttpStatusCode.BadRequest);
    }

    [Fact]
    public async Task The_claim_hands_the_worker_the_resources_and_network_as_the_tenant_allows_now()
    {
        using var worker = _host.WorkerClient();
        var (tenant, client) = await _host.TenantClientAsync();
        await SetAllowNetworkAsync(tenant.TenantId, true);
        var jobId = await Api.CreateJobAsync(client, maxAttempts: 3,
            extra: "\"resources\": {\"memory_mib\": 32, \"cpus\": 1.5, \"pids\": 20}, \"network\": true");
        var run = await Api.RunAsync(client, jobId);

        var first = await Api.DequeueRawAsync(worker, tenant.TenantId);
        var payload = first.GetProperty("payload");
        Assert.Equal(run.ExecutionId, first.GetProperty("execution_id").GetGuid());
        Assert.Equal(32, payload.GetProperty("resources").GetProperty("memory_mib").GetInt32());
        Assert.Equal(1.5, payload.GetProperty("resources").GetProperty("cpus").GetDouble());
        Assert.Equal(20, payload.GetProperty("resources").GetProperty("pids").GetInt32());
        Assert.True(payload.GetProperty("network").GetBoolean());

        // The administrator revokes network: the job still asks, but the next attempt gets none.
        await SetAllowNetworkAsync(tenant.TenantId, false);
        Assert.Equal(ExecutionStatus.Retrying, await Api.ResultAsync(worker, run.ExecutionId, first.GetProperty("lease_token").GetGuid(), 1));
        var second = await Api.DequeueRawAsync(worker, tenant.TenantId);
        Assert.Equal(2, second.GetProperty("attempt").GetInt32());
        Assert.False(second.GetProperty("payload").TryGetProperty("network", out _), second.ToString());
        Assert.Equal(32, second.GetProperty("payload").GetProperty("resources").GetProperty("memory_mib").GetInt32());
        Assert.True((await Api.ReadAsync(await client.GetAsync($"/jobs/{jobId}"), Api.Json.JobView)).Network);
    }

    [Fact]
    public async Task A_job_asking_for_nothing_is_claimed_with_a_payload_an_older_worker_reads()
    {
        using var worker = _host.WorkerClient();
        var (tenant, client) = await _host.TenantClientAsync();
        await SetAllowNetworkAsync(tenant.TenantId, true);
        await Api.RunAsync(client, await Api.CreateJobAsync(client));

        var claimed = await Api.DequeueRawAsync(worker, tenant.TenantId);

        // Neither field appears: a worker that predates them refuses unknown fields.
        var payload = claimed.GetProperty("payload");
        Assert.False(payload.TryGetProperty("resources", out _), payload.ToString());
        Assert.False(payload.TryGetProperty("network", out _), payload.ToString());
    }
}
