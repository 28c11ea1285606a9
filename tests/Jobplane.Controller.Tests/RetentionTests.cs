using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using Jobplane.Api;
using Jobplane.Testing;
using Microsoft.Extensions.Configuration;

namespace Jobplane.Controller.Tests;

/// <summary>
/// A tenant's retention_days over HTTP: set by the administrator, shown in tenant views and the
/// OpenAPI document, bad values refused with 400 naming the field and changing nothing.
/// </summary>
public sealed class RetentionApiTests(ControllerFixture fixture) : IClassFixture<ControllerFixture>
{
    private readonly ControllerHost _host = fixture.Host;

    private async Task<TenantView> GetTenantAsync(HttpClient admin, Guid id) =>
        await Api.ReadAsync(await admin.GetAsync($"/tenants/{id}"), Api.Json.TenantView);

    [Fact]
    public async Task The_administrator_sets_and_clears_a_tenants_retention_and_every_view_shows_it()
    {
        using var admin = _host.AdminClient();
        var tenant = await _host.CreateTenantAsync();
        Assert.Null((await GetTenantAsync(admin, tenant.TenantId)).RetentionDays);

        var patched = await admin.PatchAsync($"/tenants/{tenant.TenantId}", Api.RawJson("""{"retention_days": 7}"""));
        Assert.Equal(HttpStatusCode.NoContent, patched.StatusCode);
        Assert.Equal(7, (await GetTenantAsync(admin, tenant.TenantId)).RetentionDays);
        var raw = await admin.GetStringAsync($"/tenants/{tenant.TenantId}");
        Assert.Equal(7, JsonDocument.Parse(raw).RootElement.GetProperty("retention_days").GetInt32());
        var list = await Api.ReadAsync(await admin.GetAsync("/tenants?limit=1000"), Api.Json.TenantList);
        Assert.Equal(7, list.Tenants.Single(t => t.Id == tenant.TenantId).RetentionDays);

        var audit = await Api.ReadAsync(await admin.GetAsync($"/audit?tenant_id={tenant.TenantId}&limit=1"), Api.Json.AuditPage);
        Assert.Equal("tenant.update", audit.Entries[0].Action);
        Assert.Equal(7, audit.Entries[0].Details!.Value.GetProperty("retention_days").GetInt32());

        // 0: back to the operator's retention.
        Assert.Equal(HttpStatusCode.NoContent,
            (await admin.PatchAsync($"/tenants/{tenant.TenantId}", Api.RawJson("""{"retention_days": 0}"""))).StatusCode);
        Assert.Null((await GetTenantAsync(admin, tenant.TenantId)).RetentionDays);

        // Set at creation too.
        var created = await Api.ReadAsync(await admin.PostAsync("/tenants",
            Api.RawJson($$"""{"name": "kept-{{Guid.NewGuid():N}}", "retention_days": 400}""")), Api.Json.CreateTenantResponse, HttpStatusCode.Created);
        Assert.Equal(400, (await GetTenantAsync(admin, created.TenantId)).RetentionDays);
    }

    [Theory]
    [InlineData("PATCH", """{"retention_days": -1}""")]
    [InlineData("PATCH", """{"retention_days": 36501}""")]
    [InlineData("PATCH", """{"retention_days": 1.5}""")]
    [InlineData("PATCH", """{"retention_days": "7"}""")]
    [InlineData("POST", """{"name": "NAME", "retention_days": 0}""")]
    [InlineData("POST", """{"name": "NAME", "retention_days": 2147483648}""")]
    public async Task A_bad_retention_is_refused_naming_the_field_and_changes_nothing(string method, string body) =>
        await TenantSettingChecks.AssertRefusedAndNothingChangedAsync(_host, method, body, "retention_days",
            """{"retention_days": 9}""", view => Assert.Equal(9, view.RetentionDays));

    [Fact]
    public async Task A_tenant_cannot_set_its_own_retention() =>
        await TenantSettingChecks.AssertTenantCannotSetAsync(_host, """{"retention_days": 36500}""", view => Assert.Null(view.RetentionDays));

    [Fact]
    public async Task The_openapi_document_describes_retention_days_on_tenants() =>
        await TenantSettingChecks.AssertDocumentedAsync(_host, "retention_days");
}

/// <summary>The retention settings: documented defaults, days, durations and off; a bad value names itself at start-up.</summary>
public sealed class RetentionSettingsTests
{
    private static ControllerOptions Read(params (string Key, string Value)[] settings)
    {
        var values = new Dictionary<string, string?> { ["DATABASE_URL"] = "Host=localhost;Database=x" };
        foreach (var (k, v) in settings) values[k] = v;
        return ControllerOptions.FromConfiguration(new ConfigurationBuilder().AddInMemoryCollection(values).Build());
    }

    [Fact]
    public void Defaults_keep_executions_and_dead_letters_30_days_and_audit_a_year()
    {
        var options = Read();
        Assert.Equal(TimeSpan.FromDays(30), options.Retention.Executions);
        Assert.Equal(TimeSpan.FromDays(30), options.Retention.DeadLetters);
        Assert.Equal(TimeSpan.FromDays(365), options.Retention.Audit);
        Assert.Equal(TimeSpan.FromMinutes(1), options.RetentionInterval);
        Assert.Equal(1000, options.RetentionBatchSize);
        Assert.Equal(10, options.RetentionMaxPercent);
    }

    [Fact]
    public void Days_durations_and_off_are_understood()
    {
        var options = Read(("RETENTION_EXECUTIONS", "7d"), ("RETENTION_DEAD_LETTERS", "off"), ("RETENTION_AUDIT", "0"),
            ("RETENTION_INTERVAL", "10s"), ("RETENTION_BATCH_SIZE", "500"), ("RETENTION_MAX_PERCENT", "25"));
        Assert.Equal(TimeSpan.FromDays(7), options.Retention.Executions);
        Assert.Null(options.Retention.DeadLetters);
        Assert.Null(options.Retention.Audit);
        Assert.Equal(TimeSpan.FromSeconds(10), options.RetentionInterval);
        Assert.Equal(500, options.RetentionBatchSize);
        Assert.Equal(25, options.RetentionMaxPercent);
        Assert.Equal(TimeSpan.FromHours(36), Read(("RETENTION_AUDIT", "36h")).Retention.Audit);
    }

    [Fact]
    public void Every_bad_retention_setting_is_named_at_once()
    {
        var e = Assert.Throws<ConfigurationException>(() => Read(("RETENTION_EXECUTIONS", "12h"), ("RETENTION_DEAD_LETTERS", "thirty"),
            ("RETENTION_AUDIT", "-5d"), ("RETENTION_INTERVAL", "0"), ("RETENTION_BATCH_SIZE", "0"),
            ("RETENTION_MAX_PERCENT", "95")));
        foreach (var key in new[] { "RETENTION_EXECUTIONS", "RETENTION_DEAD_LETTERS", "RETENTION_AUDIT", "RETENTION_INTERVAL", "RETENTION_BATCH_SIZE", "RETENTION_MAX_PERCENT" })
            Assert.Contains(key, e.Message, StringComparison.Ordinal);
    }
}

/// <summary>The controller's maintenance loop applies retention by itself: old finished work disappears, the rest stays.</summary>
public sealed class RetentionMaintenanceTests : IAsyncLifetime
{
    private readonly ControllerHost _host = new(new Dictionary<string, string?>
    {
        ["RETENTION_INTERVAL"] = "1s",
        ["RETENTION_BATCH_SIZE"] = "10",
    });

    public Task InitializeAsync() => _host.InitializeAsync();

    public Task DisposeAsync() => _host.DisposeAsync();

    private async Task<long> CountAsync(string sql, Guid id) => await _host.Database.ScalarAsync<long>(sql, id);

    [Fact]
    public async Task Old_executions_dead_letters_and_audit_records_are_deleted_by_the_controller_itself()
    {
        using var worker = _host.WorkerClient();
        var (tenant, client, jobId, claim) = await Api.RunningAsync(_host, worker);
        await Api.ShipLogsAsync(worker, claim.ExecutionId, claim.LeaseToken, "old output");
        await Api.ResultAsync(worker, claim.ExecutionId, claim.LeaseToken, 0);
        // Many more old ones than a batch, so the loop must go on after its first batch.
        await Api.ExecSqlAsync(_host, """
            insert into executions (id, tenant_id, job_id, status, priority, timeout_seconds, attempt, max_attempts, scheduled_at, completed_at)
            select gen_random_uuid(), $1, $2, 'SUCCEEDED', 50, 60, 1, 3, now(), now() from generate_series(1, 45)
            """, tenant.TenantId, jobId);
        var young = await Api.RunAsync(client, jobId);
        await Api.ExecSqlAsync(_host, """
            update executions set completed_at = now() - interval '31 days' where tenant_id = $1 and status = 'SUCCEEDED'
            """, tenant.TenantId);
        await Api.ExecSqlAsync(_host, "update audit_log set at = now() - interval '366 days' where tenant_id = $1", tenant.TenantId);

        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (await CountAsync("select count(*) from executions where tenant_id = $1 and status = 'SUCCEEDED'", tenant.TenantId) > 0
               || await CountAsync("select count(*) from audit_log where tenant_id = $1", tenant.TenantId) > 0)
        {
            Assert.True(DateTime.UtcNow < deadline, "retention did not delete the old rows within a minute");
            await Task.Delay(100);
        }

        Assert.Equal(0, await CountAsync("select count(*) from execution_logs where execution_id = $1", claim.ExecutionId));
        Assert.Equal(HttpStatusCode.NotFound, (await client.GetAsync($"/executions/{claim.ExecutionId}")).StatusCode);
        // The pending one, however long it waits, stays and still runs.
        Assert.Equal(ExecutionStatus.Pending, (await Api.GetExecutionAsync(client, young.ExecutionId)).Status);
        Assert.Equal(young.ExecutionId, (await Api.ClaimAsync(worker, tenant.TenantId, young.ExecutionId)).ExecutionId);
    }
}
