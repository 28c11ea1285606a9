using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Jobplane.Api;
using Jobplane.Testing;

namespace Jobplane.Controller.Tests;

/// <summary>A controller allowing three live API keys per tenant.</summary>
public sealed class FewKeysFixture : IAsyncLifetime
{
    public ControllerHost Host { get; } = new(new Dictionary<string, string?> { ["MAX_API_KEYS_PER_TENANT"] = "3" });

    public Task InitializeAsync() => Host.InitializeAsync();

    public Task DisposeAsync() => Host.DisposeAsync();
}

/// <summary>API keys: a cap on live keys, expiry by the database clock, and revocation that takes the keys a key made.</summary>
public sealed class ApiKeyLimitTests(FewKeysFixture fixture) : IClassFixture<FewKeysFixture>
{
    private readonly ControllerHost _host = fixture.Host;

    private static async Task<HttpResponseMessage> CreateAsync(HttpClient client, string body) =>
        await client.PostAsync("/api-keys", Api.RawJson(body));

    private static async Task<CreateApiKeyResponse> CreateOkAsync(HttpClient client, string body = "{}") =>
        await Api.ReadAsync(await CreateAsync(client, body), Api.Json.CreateApiKeyResponse, HttpStatusCode.Created);

    [Fact]
    public async Task A_tenant_cannot_hold_more_live_keys_than_the_cap_and_a_revoked_or_expired_one_frees_a_place()
    {
        var (tenant, client) = await _host.TenantClientAsync(); // its first key is one of three
        var second = await CreateOkAsync(client);
        var third = await CreateOkAsync(client);

        var refused = await Api.AssertErrorAsync(await CreateAsync(client, "{}"), HttpStatusCode.Conflict, ErrorCodes.TooManyApiKeys);
        Assert.Contains("MAX_API_KEYS_PER_TENANT", refused.Error, StringComparison.Ordinal);
        // The administrator is held to the same cap.
        using var admin = _host.AdminClient();
        await Api.AssertErrorAsync(await admin.PostAsync($"/tenants/{tenant.TenantId}/api-keys", Api.RawJson("{}")), HttpStatusCode.Conflict, ErrorCodes.TooManyApiKeys);
        Assert.Equal(3, (await Api.ReadAsync(await client.GetAsync("/api-keys"), Api.Json.ApiKeyList)).ApiKeys.Count);

        Assert.Equal(HttpStatusCode.NoContent, (await client.DeleteAsync($"/api-keys/{second.Id}")).StatusCode);
        await CreateOkAsync(client);
        await Api.ExecSqlAsync(_host, "update api_keys set expires_at = now() - interval '1 second' where id = $1", third.Id);
        await CreateOkAsync(client);
    }

    [Fact]
    public async Task Keys_created_at_once_never_pass_the_cap()
    {
        var (_, client) = await _host.TenantClientAsync();
        var answers = await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => CreateAsync(client, "{}")));
        Assert.Equal(2, answers.Count(a => a.StatusCode == HttpStatusCode.Created));
        Assert.Equal(6, answers.Count(a => a.StatusCode == HttpStatusCode.Conflict));
    }

    [Fact]
    public async Task An_expiring_key_works_until_the_database_clock_passes_its_expiry_then_fails_at_once_everywhere()
    {
        var (_, client) = await _host.TenantClientAsync();
        var created = await CreateOkAsync(client, """{"name": "ci", "expires_in": 3600}""");
        Assert.NotNull(created.ExpiresAt);
        Assert.InRange(created.ExpiresAt!.Value - created.CreatedAt, TimeSpan.FromMinutes(59), TimeSpan.FromMinutes(61));
        using var expiring = _host.Client(created.ApiKey);
        var job = await Api.CreateJobAsync(expiring);
        await Api.RunAsync(expiring, job); // the run route now remembers this key for a few seconds

        await Api.ExecSqlAsync(_host, "update api_keys set expires_at = now() where id = $1", created.Id);
        await Api.AssertErrorAsync(await expiring.GetAsync("/jobs"), HttpStatusCode.Unauthorized);
        // Also on the route that admits a recently verified key without a lookup: its insert checks expiry.
        await Api.AssertErrorAsync(await expiring.PostAsync($"/jobs/{job}/run", null), HttpStatusCode.Unauthorized);

        var listed = (await Api.ReadAsync(await client.GetAsync("/api-keys"), Api.Json.ApiKeyList)).ApiKeys.Single(k => k.Id == created.Id);
        Assert.True(listed.Expired);
        Assert.NotNull(listed.ExpiresAt);
        Assert.Null(listed.RevokedAt);
    }

    [Fact]
    public async Task Bad_expiry_is_400_naming_the_field_and_creates_nothing()
    {
        var (_, client) = await _host.TenantClientAsync();
        var past = DateTimeOffset.UtcNow.AddDays(-1).ToString("yyyy-MM-ddTHH:mm:ssZ", System.Globalization.CultureInfo.InvariantCulture);
        foreach (var (body, field) in new[]
        {
            ($$"""{"expires_at": "{{past}}"}""", "expires_at"),
            ("""{"expires_in": 0}""", "expires_in"),
            ("""{"expires_in": -5}""", "expires_in"),
            ("""{"expires_in": 99999999999}""", "expires_in"),
            ("""{"expires_in": 60, "expires_at": "2999-01-01T00:00:00Z"}""", "expires_at"),
        })
        {
            var error = await Api.AssertErrorAsync(await CreateAsync(client, body), HttpStatusCode.BadRequest);
            Assert.Contains(field, error.Error, StringComparison.Ordinal);
        }
        await Api.AssertErrorAsync(await CreateAsync(client, """{"expires_at": "2999-01-01T00:00:00"}"""), HttpStatusCode.BadRequest, ErrorCodes.InvalidTimestamp);
        Assert.Single((await Api.ReadAsync(await client.GetAsync("/api-keys"), Api.Json.ApiKeyList)).ApiKeys);
    }

    [Fact]
    public async Task Revoking_a_key_revokes_every_key_it_minted_however_deep_and_audits_each()
    {
        var (tenant, root) = await _host.TenantClientAsync();
        var child = await CreateOkAsync(root, """{"name": "child"}""");
        using var childClient = _host.Client(child.ApiKey);
        var grandchild = await CreateOkAsync(childClient, """{"name": "grandchild"}""");
        Assert.Equal(child.Id, grandchild.ParentKeyId);
        using var grandchildClient = _host.Client(grandchild.ApiKey);
        var job = await Api.CreateJobAsync(grandchildClient);
        await Api.RunAsync(grandchildClient, job); // remembered by the run route

        // The leaked child is revoked: its own child goes with it, the root key stays.
        Assert.Equal(HttpStatusCode.NoContent, (await root.DeleteAsync($"/api-keys/{child.Id}")).StatusCode);
        await Api.AssertErrorAsync(await childClient.GetAsync("/jobs"), HttpStatusCode.Unauthorized);
        await Api.AssertErrorAsync(await grandchildClient.GetAsync("/jobs"), HttpStatusCode.Unauthorized);
        await Api.AssertErrorAsync(await grandchildClient.PostAsync($"/jobs/{job}/run", null), HttpStatusCode.Unauthorized);
        Assert.Equal(HttpStatusCode.OK, (await root.GetAsync("/jobs")).StatusCode);

        var keys = (await Api.ReadAsync(await root.GetAsync("/api-keys"), Api.Json.ApiKeyList)).ApiKeys;
        Assert.NotNull(keys.Single(k => k.Id == grandchild.Id).RevokedAt);
        Assert.Equal(child.Id, keys.Single(k => k.Id == grandchild.Id).ParentKeyId);

        using var admin = _host.AdminClient();
        var audit = JsonDocument.Parse(await (await admin.GetAsync($"/audit?tenant_id={tenant.TenantId}")).Content.ReadAsStringAsync()).RootElement.ToString();
        Assert.Contains(grandchild.Prefix, audit, StringComparison.Ordinal);
        Assert.Contains("cascade_from", audit, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_revoked_key_cannot_mint_a_survivor()
    {
        var (_, root) = await _host.TenantClientAsync();
        var leaked = await CreateOkAsync(root, """{"name": "leaked"}""");
        using var attacker = _host.Client(leaked.ApiKey);
        // The attacker mints as fast as it can while the owner revokes the leaked key.
        var minting = Task.WhenAll(Enumerable.Range(0, 4).Select(_ => attacker.PostAsync("/api-keys", Api.RawJson("{}"))));
        Assert.Equal(HttpStatusCode.NoContent, (await root.DeleteAsync($"/api-keys/{leaked.Id}")).StatusCode);
        foreach (var answer in await minting)
        {
            if (answer.StatusCode != HttpStatusCode.Created) continue;
            var minted = (await answer.Content.ReadFromJsonAsync(Api.Json.CreateApiKeyResponse))!;
            using var survivor = _host.Client(minted.ApiKey);
            await Api.AssertErrorAsync(await survivor.GetAsync("/jobs"), HttpStatusCode.Unauthorized);
        }
        var live = (await Api.ReadAsync(await root.GetAsync("/api-keys"), Api.Json.ApiKeyList)).ApiKeys.Where(k => k.RevokedAt is null);
        Assert.Single(live);
    }
}
