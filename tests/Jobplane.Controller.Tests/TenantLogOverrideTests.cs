using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Nodes;
using Jobplane.Api;
using Jobplane.Testing;

namespace Jobplane.Controller.Tests;

/// <summary>A controller with small operator log bounds (4 KiB per execution, 3 streams per tenant), for tenants to override.</summary>
public sealed class SmallLogBoundsFixture : IAsyncLifetime
{
    public const long OperatorCap = 4 * 1024;

    public ControllerHost Host { get; } = new(new Dictionary<string, string?>
    {
        ["LOG_MAX_BYTES_PER_EXECUTION"] = "4KiB",
        ["LOG_FOLLOW_MAX_PER_TENANT"] = "3",
    });

    public Task InitializeAsync() => Host.InitializeAsync();

    public Task DisposeAsync() => Host.DisposeAsync();
}

/// <summary>
/// A tenant's own log_max_bytes_per_execution and log_follow_max: set by the administrator, shown in
/// its views, applied by the log append and at stream open, refused when out of bounds.
/// </summary>
public sealed class TenantLogOverrideTests(SmallLogBoundsFixture fixture) : IClassFixture<SmallLogBoundsFixture>
{
    private readonly ControllerHost _host = fixture.Host;

    // As a worker ships `yes`: 1000-byte lines.
    private static readonly string Line = new('y', 1000);

    private async Task<TenantView> GetTenantAsync(Guid id)
    {
        using var admin = _host.AdminClient();
        return await Api.ReadAsync(await admin.GetAsync($"/tenants/{id}"), Api.Json.TenantView);
    }

    private async Task PatchAsync(Guid tenantId, string body)
    {
        using var admin = _host.AdminClient();
        var response = await admin.PatchAsync($"/tenants/{tenantId}", Api.RawJson(body));
        Assert.True(response.StatusCode == HttpStatusCode.NoContent, await response.Content.ReadAsStringAsync());
    }

    /// <summary>Ships one line per call until the answer says the log is full; returns the lines stored before the cut.</summary>
    private static async Task<int> ShipUntilFullAsync(HttpClient worker, ClaimedExecution claim, int atMost)
    {
        for (var i = 0; i < atMost; i++)
        {
            using var response = await worker.PostAsJsonAsync($"/internal/executions/{claim.ExecutionId}/logs",
                new AppendLogsRequest { LeaseToken = claim.LeaseToken, Lines = [new LogLine(Line, "stdout")] }, Api.Json.AppendLogsRequest);
            if (response.StatusCode == HttpStatusCode.OK)
            {
                Assert.True((await response.Content.ReadFromJsonAsync(Api.Json.AppendLogsResponse))!.LogFull);
                return i;
            }
            Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);
        }
        return atMost;
    }

    private static async Task<IReadOnlyList<LogEntry>> LogsAsync(HttpClient client, Guid executionId) =>
        (await Api.ReadAsync(await client.GetAsync($"/executions/{executionId}/logs?limit=5000"), Api.Json.LogPage)).Logs;

    [Fact]
    public async Task A_tenants_larger_log_cap_lets_its_log_pass_the_operators()
    {
        using var worker = _host.WorkerClient();
        var (tenant, client, _, claim) = await Api.RunningAsync(_host, worker);
        await PatchAsync(tenant.TenantId, """{"log_max_bytes_per_execution": 16384}""");

        var stored = await ShipUntilFullAsync(worker, claim, 100);

        // 16 lines fit in 16 KiB, four times what the operator's 4 KiB would have kept.
        Assert.Equal(16, stored);
        var logs = await LogsAsync(client, claim.ExecutionId);
        Assert.Equal(17, logs.Count);
        Assert.Equal(Endpoints.WorkerEndpoints.TenantCutMarker(16 * 1024), logs[^1].Content);
        Assert.Equal("[jobplane: this execution's log reached its tenant's limit of 16 KiB (the tenant's log_max_bytes_per_execution); "
            + "the rest of its output was dropped]", logs[^1].Content);
        Assert.Equal(ExecutionStatus.Succeeded, await Api.ResultAsync(worker, claim.ExecutionId, claim.LeaseToken, 0));

        // Another tenant still has the operator's cap, and its marker.
        var (_, otherClient, _, otherClaim) = await Api.RunningAsync(_host, worker);
        Assert.Equal(4, await ShipUntilFullAsync(worker, otherClaim, 100));
        Assert.Equal(Endpoints.WorkerEndpoints.CutMarker(SmallLogBoundsFixture.OperatorCap), (await LogsAsync(otherClient, otherClaim.ExecutionId))[^1].Content);
    }

    [Fact]
    public async Task A_tenants_smaller_log_cap_cuts_earlier_and_the_marker_names_the_tenants_limit()
    {
        using var worker = _host.WorkerClient();
        var (tenant, client, _, claim) = await Api.RunningAsync(_host, worker);
        await PatchAsync(tenant.TenantId, """{"log_max_bytes_per_execution": 2048}""");

        Assert.Equal(2, await ShipUntilFullAsync(worker, claim, 100));

        var logs = await LogsAsync(client, claim.ExecutionId);
        Assert.Equal([Line, Line, Endpoints.WorkerEndpoints.TenantCutMarker(2048)], logs.Select(l => l.Content));
        Assert.Contains("its tenant's limit of 2 KiB", logs[^1].Content, StringComparison.Ordinal);
        Assert.DoesNotContain("LOG_MAX_BYTES_PER_EXECUTION", logs[^1].Content, StringComparison.Ordinal);

        // Back to the operator's cap (0), for the tenant's next execution.
        await PatchAsync(tenant.TenantId, """{"log_max_bytes_per_execution": 0}""");
        Assert.Null((await GetTenantAsync(tenant.TenantId)).LogMaxBytesPerExecution);
        var job = await Api.CreateJobAsync(client);
        var run = await Api.RunAsync(client, job);
        var next = await Api.ClaimAsync(worker, tenant.TenantId, run.ExecutionId);
        Assert.Equal(4, await ShipUntilFullAsync(worker, next, 100));
    }

    [Fact]
    public async Task A_tenants_own_stream_cap_of_one_gives_429_on_the_second_stream()
    {
        using var worker = _host.WorkerClient();
        var (tenant, client, _, claim) = await Api.RunningAsync(_host, worker);
        await PatchAsync(tenant.TenantId, """{"log_follow_max": 1}""");
        using var guard = new CancellationTokenSource(TimeSpan.FromSeconds(60));

        var (first, firstReader) = await LogFollowLimitTests.OpenAsync(client, claim.ExecutionId, guard.Token);
        using (first)
        using (firstReader)
        {
            var second = await client.GetAsync($"/executions/{claim.ExecutionId}/logs?follow=true", HttpCompletionOption.ResponseHeadersRead, guard.Token);
            var error = await Api.AssertErrorAsync(second, (HttpStatusCode)429, ErrorCodes.TooManyLogStreams);
            Assert.Contains("log_follow_max", error.Error, StringComparison.Ordinal);
            Assert.DoesNotContain("LOG_FOLLOW_MAX_PER_TENANT", error.Error, StringComparison.Ordinal);
        }

        // Raised above the operator's 3: four streams at once.
        await PatchAsync(tenant.TenantId, """{"log_follow_max": 4}""");
        var open = new List<(HttpResponseMessage, StreamReader)>();
        try
        {
            // The first stream's slot is given back once the server notices it closed.
            for (var i = 0; i < 100 && open.Count < 4; i++)
            {
                var response = await client.GetAsync($"/executions/{claim.ExecutionId}/logs?follow=true", HttpCompletionOption.ResponseHeadersRead, guard.Token);
                if (response.StatusCode == HttpStatusCode.OK)
                {
                    open.Add((response, new StreamReader(await response.Content.ReadAsStreamAsync(guard.Token))));
                    continue;
                }
                response.Dispose();
                await Task.Delay(100, guard.Token);
            }
            Assert.Equal(4, open.Count);
            var fifth = await client.GetAsync($"/executions/{claim.ExecutionId}/logs?follow=true", HttpCompletionOption.ResponseHeadersRead, guard.Token);
            await Api.AssertErrorAsync(fifth, (HttpStatusCode)429, ErrorCodes.TooManyLogStreams);
        }
        finally
        {
            foreach (var (response, reader) in open)
            {
                reader.Dispose();
                response.Dispose();
            }
        }
    }

    [Fact]
    public async Task The_administrator_sets_both_at_creation_and_clears_them_and_every_view_and_the_audit_show_them()
    {
        using var admin = _host.AdminClient();
        var created = await Api.ReadAsync(await admin.PostAsync("/tenants", Api.RawJson(
                $$"""{"name": "chatty-{{Guid.NewGuid():N}}", "log_max_bytes_per_execution": 1073741824, "log_follow_max": 50}""")),
            Api.Json.CreateTenantResponse, HttpStatusCode.Created);

        var view = await GetTenantAsync(created.TenantId);
        Assert.Equal(1L << 30, view.LogMaxBytesPerExecution);
        Assert.Equal(50, view.LogFollowMax);
        var raw = JsonDocument.Parse(await admin.GetStringAsync($"/tenants/{created.TenantId}")).RootElement;
        Assert.Equal(1L << 30, raw.GetProperty("log_max_bytes_per_execution").GetInt64());
        Assert.Equal(50, raw.GetProperty("log_follow_max").GetInt32());
        var list = await Api.ReadAsync(await admin.GetAsync("/tenants?limit=1000"), Api.Json.TenantList);
        Assert.Equal(50, list.Tenants.Single(t => t.Id == created.TenantId).LogFollowMax);

        await PatchAsync(created.TenantId, """{"log_max_bytes_per_execution": 0, "log_follow_max": 0}""");
        view = await GetTenantAsync(created.TenantId);
        Assert.Null(view.LogMaxBytesPerExecution);
        Assert.Null(view.LogFollowMax);

        var audit = await Api.ReadAsync(await admin.GetAsync($"/audit?tenant_id={created.TenantId}&limit=10"), Api.Json.AuditPage);
        Assert.Equal(["tenant.update", "api_key.create", "tenant.create"], audit.Entries.Select(e => e.Action));
        Assert.Equal(0, audit.Entries[0].Details!.Value.GetProperty("log_follow_max").GetInt32());
        Assert.Equal(1L << 30, audit.Entries[2].Details!.Value.GetProperty("log_max_bytes_per_execution").GetInt64());

        // A change to the same values changes nothing and is not audited.
        await PatchAsync(created.TenantId, """{"log_follow_max": 0}""");
        Assert.Equal(3, (await Api.ReadAsync(await admin.GetAsync($"/audit?tenant_id={created.TenantId}&limit=10"), Api.Json.AuditPage)).Entries.Count);
    }

    [Theory]
    [InlineData("PATCH", """{"log_max_bytes_per_execution": 1023}""", "log_max_bytes_per_execution")]
    [InlineData("PATCH", """{"log_max_bytes_per_execution": 1099511627777}""", "log_max_bytes_per_execution")]
    [InlineData("PATCH", """{"log_max_bytes_per_execution": -1}""", "log_max_bytes_per_execution")]
    [InlineData("PATCH", """{"log_max_bytes_per_execution": "16MiB"}""", "log_max_bytes_per_execution")]
    [InlineData("PATCH", """{"log_max_bytes_per_execution": 2048.5}""", "log_max_bytes_per_execution")]
    [InlineData("PATCH", """{"log_follow_max": 100001}""", "log_follow_max")]
    [InlineData("PATCH", """{"log_follow_max": -1}""", "log_follow_max")]
    [InlineData("PATCH", """{"log_follow_max": 2, "log_max_bytes_per_execution": 10}""", "log_max_bytes_per_execution")]
    [InlineData("POST", """{"name": "NAME", "log_max_bytes_per_execution": 0}""", "log_max_bytes_per_execution")]
    [InlineData("POST", """{"name": "NAME", "log_max_bytes_per_execution": 512}""", "log_max_bytes_per_execution")]
    [InlineData("POST", """{"name": "NAME", "log_follow_max": 0}""", "log_follow_max")]
    [InlineData("POST", """{"name": "NAME", "log_follow_max": 2147483648}""", "log_follow_max")]
    public async Task A_bad_value_is_refused_naming_the_field_and_changes_nothing(string method, string body, string field) =>
        await TenantSettingChecks.AssertRefusedAndNothingChangedAsync(_host, method, body, field,
            """{"log_max_bytes_per_execution": 8192, "log_follow_max": 7}""", view =>
            {
                Assert.Equal(8192, view.LogMaxBytesPerExecution);
                Assert.Equal(7, view.LogFollowMax);
            });

    [Fact]
    public async Task A_tenants_own_key_cannot_change_them() =>
        await TenantSettingChecks.AssertTenantCannotSetAsync(_host,
            """{"log_max_bytes_per_execution": 1099511627776, "log_follow_max": 100000}""", view =>
            {
                Assert.Null(view.LogMaxBytesPerExecution);
                Assert.Null(view.LogFollowMax);
            });

    [Fact]
    public async Task The_openapi_document_describes_both_on_tenants() =>
        await TenantSettingChecks.AssertDocumentedAsync(_host, "log_max_bytes_per_execution", "log_follow_max");
}
