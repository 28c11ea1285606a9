using System.Net;
using Jobplane.Api;
using Jobplane.Testing;
using Xunit.Abstractions;

namespace Jobplane.Controller.Tests.Webhooks;

/// <summary>
/// Registering webhook endpoints as a hostile tenant would: every address form that reaches the
/// platform's own network is refused before anything is stored, bad fields are named, the cap
/// holds, and another tenant's endpoints are not there. Default settings: https only, no allow-list.
/// </summary>
public sealed class WebhookEndpointTests(ControllerFixture fixture, ITestOutputHelper output) : IClassFixture<ControllerFixture>
{
    private ControllerHost Host => fixture.Host;

    public static readonly TheoryData<string, string> Refused = new()
    {
        { "https://127.0.0.1/hook", "loopback" },
        { "https://127.8.9.10/hook", "loopback" },
        { "https://localhost/hook", "loopback" },
        { "https://[::1]/hook", "loopback" },
        { "https://10.1.2.3/hook", "private" },
        { "https://172.16.0.1/hook", "private" },
        { "https://192.168.1.1/hook", "private" },
        { "https://100.64.0.1/hook", "shared" },
        { "https://169.254.169.254/latest/meta-data/", "link-local" },
        { "https://[fe80::1]/hook", "link-local" },
        { "https://[fd00::1]/hook", "unique local" },
        { "https://224.0.0.1/hook", "multicast" },
        { "https://[ff02::1]/hook", "multicast" },
        { "https://0.0.0.0/hook", "unspecified" },
        { "https://[::]/hook", "unspecified" },
        { "https://[::ffff:127.0.0.1]/hook", "loopback" },
        { "https://[::ffff:169.254.169.254]/hook", "link-local" },
        { "https://[64:ff9b::a9fe:a9fe]/hook", "link-local" },
        { "https://[2002:7f00:1::]/hook", "loopback" },
        { "http://93.184.215.14/hook", "https" },
        { "https://user:pass@93.184.215.14/hook", "user" },
        { "ftp://93.184.215.14/hook", "https" },
        { "not a url", "absolute" },
    };

    [Theory]
    [MemberData(nameof(Refused))]
    public async Task An_address_of_our_own_network_is_refused_and_nothing_is_stored(string url, string reason)
    {
        var (tenant, client) = await Host.TenantClientAsync();
        var answer = await client.PostAsync("/webhooks", Api.RawJson($$"""{"url": {{System.Text.Json.JsonSerializer.Serialize(url)}}, "events": ["execution.failed"]}"""));
        var error = await Api.AssertErrorAsync(answer, HttpStatusCode.BadRequest, ErrorCodes.InvalidArgument);
        output.WriteLine($"{url} -> 400 {error.Error}");
        Assert.StartsWith("url:", error.Error);
        Assert.Contains(reason, error.Error, StringComparison.OrdinalIgnoreCase);
        await using var count = Host.Database.DataSource.CreateCommand($"select count(*) from webhook_endpoints where tenant_id = '{tenant.TenantId}'");
        Assert.Equal(0L, await count.ExecuteScalarAsync());
    }

    [Fact]
    public async Task A_public_https_endpoint_is_made_with_a_secret_shown_once_and_audited()
    {
        var (tenant, client) = await Host.TenantClientAsync();
        var made = await Api.ReadAsync(await client.PostAsync("/webhooks", Api.RawJson("""
            {"url": "https://93.184.215.14/hooks/jobplane", "events": ["execution.failed", "execution.dead_lettered"], "description": "pager"}
            """)), Api.Json.WebhookView, HttpStatusCode.Created);
        Assert.StartsWith("whsec_", made.Secret);
        Assert.True(made.Enabled);
        var listed = Assert.Single((await Api.ReadAsync(await client.GetAsync("/webhooks"), Api.Json.WebhookList)).Webhooks);
        Assert.Null(listed.Secret);
        Assert.Equal(["execution.failed", "execution.dead_lettered"], listed.Events);

        var changed = await Api.ReadAsync(await client.PatchAsync($"/webhooks/{made.Id}", Api.RawJson("""{"enabled": false, "job_names": ["nightly"]}""")),
            Api.Json.WebhookView);
        Assert.False(changed.Enabled);
        Assert.Equal(["nightly"], changed.JobNames);
        Assert.Equal(HttpStatusCode.NoContent, (await client.DeleteAsync($"/webhooks/{made.Id}")).StatusCode);

        await using var audit = Host.Database.DataSource.CreateCommand(
            $"select string_agg(action, ',' order by id) from audit_log where tenant_id = '{tenant.TenantId}' and action like 'webhook.%'");
        Assert.Equal("webhook.create,webhook.update,webhook.delete", await audit.ExecuteScalarAsync());
    }

    [Theory]
    [InlineData("""{"events": ["execution.failed"]}""", "url is required")]
    [InlineData("""{"url": "https://93.184.215.14/"}""", "events is required")]
    [InlineData("""{"url": "https://93.184.215.14/", "events": []}""", "events must name")]
    [InlineData("""{"url": "https://93.184.215.14/", "events": ["execution.exploded"]}""", "'execution.exploded' is not an event type")]
    [InlineData("""{"url": "https://93.184.215.14/", "events": ["webhook.test"]}""", "is not an event type")]
    [InlineData("""{"url": "https://93.184.215.14/", "events": ["execution.failed"], "colour": "red"}""", "colour")]
    public async Task Bad_fields_are_named_and_nothing_is_stored(string body, string message)
    {
        var (tenant, client) = await Host.TenantClientAsync();
        var error = await Api.AssertErrorAsync(await client.PostAsync("/webhooks", Api.RawJson(body)), HttpStatusCode.BadRequest);
        Assert.Contains(message, error.Error);
        await using var count = Host.Database.DataSource.CreateCommand($"select count(*) from webhook_endpoints where tenant_id = '{tenant.TenantId}'");
        Assert.Equal(0L, await count.ExecuteScalarAsync());
    }

    [Fact]
    public async Task A_tenant_holds_a_bounded_number_of_endpoints()
    {
        var (_, client) = await Host.TenantClientAsync();
        for (var i = 0; i < 10; i++)
            Assert.Equal(HttpStatusCode.Created, (await client.PostAsync("/webhooks", Api.RawJson("""{"url": "https://93.184.215.14/", "events": ["execution.failed"]}"""))).StatusCode);
        var error = await Api.AssertErrorAsync(await client.PostAsync("/webhooks", Api.RawJson("""{"url": "https://93.184.215.14/", "events": ["execution.failed"]}""")),
            HttpStatusCode.Conflict);
        Assert.Contains("MAX_WEBHOOKS_PER_TENANT", error.Error);
    }

    [Fact]
    public async Task Another_tenants_endpoint_is_not_there_for_any_route()
    {
        var (_, owner) = await Host.TenantClientAsync();
        var (_, other) = await Host.TenantClientAsync();
        var made = await Api.ReadAsync(await owner.PostAsync("/webhooks", Api.RawJson("""{"url": "https://93.184.215.14/", "events": ["execution.failed"]}""")),
            Api.Json.WebhookView, HttpStatusCode.Created);
        await Api.AssertErrorAsync(await other.GetAsync($"/webhooks/{made.Id}"), HttpStatusCode.NotFound);
        await Api.AssertErrorAsync(await other.PatchAsync($"/webhooks/{made.Id}", Api.RawJson("""{"enabled": false}""")), HttpStatusCode.NotFound);
        await Api.AssertErrorAsync(await other.DeleteAsync($"/webhooks/{made.Id}"), HttpStatusCode.NotFound);
        await Api.AssertErrorAsync(await other.PostAsync($"/webhooks/{made.Id}/rotate-secret", null), HttpStatusCode.NotFound);
        await Api.AssertErrorAsync(await other.PostAsync($"/webhooks/{made.Id}/test", null), HttpStatusCode.NotFound);
        await Api.AssertErrorAsync(await other.GetAsync($"/webhooks/{made.Id}/deliveries"), HttpStatusCode.NotFound);
        Assert.Empty((await Api.ReadAsync(await other.GetAsync("/webhooks"), Api.Json.WebhookList)).Webhooks);
        Assert.True((await Api.ReadAsync(await owner.GetAsync($"/webhooks/{made.Id}"), Api.Json.WebhookView)).Enabled);
    }
}
