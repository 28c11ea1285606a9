using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using Jobplane.Api;
using Jobplane.Testing;
using Microsoft.Extensions.Configuration;

namespace Jobplane.Controller.Tests;

/// <summary>
/// The fleet share over HTTP: workers announce their slots on dequeue, the administrator sets a
/// tenant's max_fleet_share (shown in tenant views, audited, in the OpenAPI document), bad values are
/// refused with 400 naming the field and change nothing, and a tenant cannot set its own.
/// </summary>
public sealed class FleetShareApiTests(ControllerFixture fixture) : IClassFixture<ControllerFixture>
{
    private readonly ControllerHost _host = fixture.Host;

    private async Task<TenantView> GetTenantAsync(HttpClient admin, Guid id) =>
        await Api.ReadAsync(await admin.GetAsync($"/tenants/{id}"), Api.Json.TenantView);

    private static async Task<IReadOnlyList<ClaimedExecution>> DequeueAsync(HttpClient worker, string workerId, int slots, int limit, params Guid[] tenants)
    {
        var response = await worker.PostAsync("/internal/executions/dequeue", Api.RawJson(JsonSerializer.Serialize(new
        {
            limit,
            worker_id = workerId,
            tenant_ids = tenants,
            capabilities = new { slots },
        })));
        return (await Api.ReadAsync(response, Api.Json.DequeueResponse)).Executions;
    }

    [Fact]
    public async Task The_administrator_sets_a_tenants_fleet_share_and_every_view_shows_it()
    {
        using var admin = _host.AdminClient();
        var tenant = await _host.CreateTenantAsync();
        Assert.Null((await GetTenantAsync(admin, tenant.TenantId)).MaxFleetShare);

        Assert.Equal(HttpStatusCode.NoContent,
            (await admin.PatchAsync($"/tenants/{tenant.TenantId}", Api.RawJson("""{"max_fleet_share": 0.25}"""))).StatusCode);
        Assert.Equal(0.25, (await GetTenantAsync(admin, tenant.TenantId)).MaxFleetShare);
        var raw = await admin.GetStringAsync($"/tenants/{tenant.TenantId}");
        Assert.Equal(0.25, JsonDocument.Parse(raw).RootElement.GetProperty("max_fleet_share").GetDouble());
        var list = await Api.ReadAsync(await admin.GetAsync("/tenants?limit=1000"), Api.Json.TenantList);
        Assert.Equal(0.25, list.Tenants.Single(t => t.Id == tenant.TenantId).MaxFleetShare);

        var audit = await Api.ReadAsync(await admin.GetAsync($"/audit?tenant_id={tenant.TenantId}&limit=1"), Api.Json.AuditPage);
        Assert.Equal("tenant.update", audit.Entries[0].Action);
        Assert.Equal(0.25, audit.Entries[0].Details!.Value.GetProperty("max_fleet_share").GetDouble());

        // 1 lifts the cap for this tenant; the same value again changes nothing and is not audited.
        Assert.Equal(HttpStatusCode.NoContent,
            (await admin.PatchAsync($"/tenants/{tenant.TenantId}", Api.RawJson("""{"max_fleet_share": 1}"""))).StatusCode);
        Assert.Equal(1.0, (await GetTenantAsync(admin, tenant.TenantId)).MaxFleetShare);
        Assert.Equal(HttpStatusCode.NoContent,
            (await admin.PatchAsync($"/tenants/{tenant.TenantId}", Api.RawJson("""{"max_fleet_share": 1}"""))).StatusCode);
        var after = await Api.ReadAsync(await admin.GetAsync($"/audit?tenant_id={tenant.TenantId}&limit=10"), Api.Json.AuditPage);
        Assert.Equal(2, after.Entries.Count(e => e.Action == "tenant.update"));

        // Set at creation too.
        var created = await Api.ReadAsync(await admin.PostAsync("/tenants",
            Api.RawJson($$"""{"name": "shared-{{Guid.NewGuid():N}}", "max_fleet_share": 0.75}""")), Api.Json.CreateTenantResponse, HttpStatusCode.Created);
        Assert.Equal(0.75, (await GetTenantAsync(admin, created.TenantId)).MaxFleetShare);
    }

    [Theory]
    [InlineData("PATCH", """{"max_fleet_share": 0}""")]
    [InlineData("PATCH", """{"max_fleet_share": -0.5}""")]
    [InlineData("PATCH", """{"max_fleet_share": 1.5}""")]
    [InlineData("PATCH", """{"max_fleet_share": "NaN"}""")]
    [InlineData("PATCH", """{"max_fleet_share": NaN}""")]
    [InlineData("PATCH", """{"max_fleet_share": "0.5"}""")]
    [InlineData("POST", """{"name": "NAME", "max_fleet_share": 0}""")]
    [InlineData("POST", """{"name": "NAME", "max_fleet_share": 1.0000001}""")]
    [InlineData("POST", """{"name": "NAME", "max_fleet_share": "NaN"}""")]
    [InlineData("POST", """{"name": "NAME", "max_fleet_share": 1e400}""")]
    public async Task A_bad_fleet_share_is_refused_naming_the_field_and_changes_nothing(string method, string body) =>
        await TenantSettingChecks.AssertRefusedAndNothingChangedAsync(_host, method, body, "max_fleet_share",
            """{"max_fleet_share": 0.4}""", view => Assert.Equal(0.4, view.MaxFleetShare));

    [Fact]
    public async Task A_tenant_cannot_set_its_own_fleet_share() =>
        await TenantSettingChecks.AssertTenantCannotSetAsync(_host, """{"max_fleet_share": 1}""", view => Assert.Null(view.MaxFleetShare));

    [Fact]
    public async Task The_openapi_document_describes_max_fleet_share_and_worker_slots()
    {
        await TenantSettingChecks.AssertDocumentedAsync(_host, "max_fleet_share");
        var (document, schema) = await TenantSettingChecks.OpenApiAsync(_host);
        var dequeue = schema(document["paths"]!["/internal/executions/dequeue"]!["post"]!["requestBody"]!["content"]!["application/json"]!["schema"]!);
        var capabilities = schema(dequeue["properties"]!["capabilities"]!);
        Assert.Contains("slots", capabilities["properties"]!.AsObject().Select(p => p.Key));
    }

    [Fact]
    public async Task Slots_announced_on_dequeue_size_the_share_a_tenant_holding_the_fleet_yields_to_another()
    {
        // This test's fleet only: workers other tests announced look long gone.
        await Api.ExecSqlAsync(_host, "update workers set seen_at = now() - interval '1 hour'");
        using var worker = _host.WorkerClient();
        var (a, aClient) = await _host.TenantClientAsync();
        var (b, bClient) = await _host.TenantClientAsync();
        var aJob = await Api.CreateJobAsync(aClient);
        var bJob = await Api.CreateJobAsync(bClient);
        await aClient.PostAsync($"/jobs/{aJob}/runs", Api.RawJson("""{"count": 8}"""));

        // Worker 1 (4 slots) fills itself with A's work, the only work there is.
        Assert.All(await DequeueAsync(worker, "fleet-1", 4, 4, a.TenantId, b.TenantId), c => Assert.Equal(a.TenantId, c.Payload.TenantId));
        Assert.Equal(4, await _host.Database.ScalarAsync<int>("select slots from workers where worker_id = 'fleet-1'"));

        // B arrives; worker 2 (4 more: 8 slots, a share of 4 each) asks for 4. A already holds 4:
        // all four go to B. Stride alone would have split them 2 and 2.
        await bClient.PostAsync($"/jobs/{bJob}/runs", Api.RawJson("""{"count": 8}"""));
        var second = await DequeueAsync(worker, "fleet-2", 4, 4, a.TenantId, b.TenantId);
        Assert.Equal(4, second.Count);
        Assert.All(second, c => Assert.Equal(b.TenantId, c.Payload.TenantId));

        // A worker restarted with other slots is recorded at its next dequeue, not a throttle interval later.
        await DequeueAsync(worker, "fleet-1", 6, 1, b.TenantId);
        Assert.Equal(6, await _host.Database.ScalarAsync<int>("select slots from workers where worker_id = 'fleet-1'"));
    }
}

/// <summary>FAIR_SHARE_MAX_FRACTION: 0.5 by default, a fraction in (0, 1]; a bad value names itself at start-up.</summary>
public sealed class FleetShareSettingsTests
{
    private static ControllerOptions Read(params (string Key, string Value)[] settings)
    {
        var values = new Dictionary<string, string?> { ["DATABASE_URL"] = "Host=localhost;Database=x" };
        foreach (var (k, v) in settings) values[k] = v;
        return ControllerOptions.FromConfiguration(new ConfigurationBuilder().AddInMemoryCollection(values).Build());
    }

    [Fact]
    public void The_default_is_half_the_fleet_and_any_fraction_up_to_1_is_accepted()
    {
        Assert.Equal(0.5, Read().FairShareMaxFraction);
        Assert.Equal(0.25, Read(("FAIR_SHARE_MAX_FRACTION", "0.25")).FairShareMaxFraction);
        Assert.Equal(1.0, Read(("FAIR_SHARE_MAX_FRACTION", "1")).FairShareMaxFraction);
    }

    [Theory]
    [InlineData("0")]
    [InlineData("-0.5")]
    [InlineData("1.5")]
    [InlineData("NaN")]
    [InlineData("half")]
    [InlineData("Infinity")]
    public void A_bad_fraction_is_named_at_start_up(string value)
    {
        var e = Assert.Throws<ConfigurationException>(() => Read(("FAIR_SHARE_MAX_FRACTION", value)));
        Assert.Contains("FAIR_SHARE_MAX_FRACTION", e.Message, StringComparison.Ordinal);
    }
}
