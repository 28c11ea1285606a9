using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.RegularExpressions;
using Jobplane.Api;
using Jobplane.Testing;

namespace Jobplane.Cli.Tests;

/// <summary>
/// Tenant administration, API keys, worker credentials, the audit log and rate limits, through jobctl
/// against the real controller and PostgreSQL. Each test makes its own tenant.
/// </summary>
public sealed partial class LiveTenancyCommandTests(LiveControllerFixture fixture) : IClassFixture<LiveControllerFixture>
{
    private readonly LiveJobctl jobctl = new(fixture.Host);

    private Task<CliResult> AdminAsync(params string[] args) =>
        jobctl.RunWithEnvironmentAsync(new() { ["SYSTEM_SECRET"] = ControllerHost.AdminSecret }, args);

    private static void AssertOk(CliResult result) => Assert.True(result.ExitCode == 0, result.ToString());

    private static void AssertFails(CliResult result, string expectedInStderr)
    {
        Assert.True(result.ExitCode == 1, result.ToString());
        Assert.Contains(expectedInStderr, result.Stderr, StringComparison.Ordinal);
        Assert.Empty(result.Stdout);
    }

    private static JsonElement Json(CliResult result)
    {
        AssertOk(result);
        return JsonDocument.Parse(result.Stdout).RootElement;
    }

    private static string[] Lines(string text) => text.Split('\n', StringSplitOptions.RemoveEmptyEntries);

    /// <summary>The value of a `key: value` line of a key/value listing.</summary>
    private static string Field(CliResult result, string key)
    {
        AssertOk(result);
        var line = Assert.Single(Lines(result.Stdout), l => l.StartsWith(key + ":", StringComparison.Ordinal));
        return line[(key.Length + 1)..].Trim();
    }

    private async Task<Guid> CreateJobAsync(string key)
    {
        var result = await jobctl.RunAsync(key, "create", "--name", $"job-{Guid.NewGuid():N}", "--image", "exec", "-c", "true");
        AssertOk(result);
        return Guid.Parse(result.Stdout.TrimEnd('\n'));
    }

    [Fact]
    public async Task Tenant_list_and_get_show_a_new_tenant()
    {
        var name = $"listed-{Guid.NewGuid():N}";
        var created = Json(await AdminAsync("tenant", "create", "--name", name, "--max-concurrent", "3", "-o", "json"));
        var tenantId = created.GetProperty("tenant_id").GetString()!;

        var table = await AdminAsync("tenant", "list", "--limit", "1000");
        var json = Json(await AdminAsync("tenant", "list", "--limit", "1000", "-o", "json"));
        var get = await AdminAsync("tenant", "get", tenantId);

        AssertOk(table);
        Assert.Matches(@"^ID +NAME +STATE +WEIGHT +RATE_LIMIT +MAX_CONCURRENT +RUNTIMES +RUNNING +READY +CREATED_AT\n", table.Stdout);
        var row = Assert.Single(Lines(table.Stdout), l => l.StartsWith(tenantId, StringComparison.Ordinal));
        Assert.Matches($@"^{tenantId} +{name} +active +1 +unlimited +3 +any +0 +0 +\d{{4}}-", row);
        var listed = Assert.Single(json.GetProperty("tenants").EnumerateArray(), t => t.GetProperty("id").GetString() == tenantId);
        Assert.Equal(name, listed.GetProperty("name").GetString());
        Assert.Equal(1000, json.GetProperty("limit").GetInt32());

        Assert.Equal(tenantId, Field(get, "id"));
        Assert.Equal(name, Field(get, "name"));
        Assert.Equal("active", Field(get, "state"));
        Assert.Equal("3", Field(get, "max_concurrent"));
        Assert.Equal("any", Field(get, "allowed_runtimes"));
        Assert.DoesNotContain("suspended_at", get.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Tenant_get_of_an_unknown_tenant_exits_1_with_the_404()
    {
        AssertFails(await AdminAsync("tenant", "get", Guid.NewGuid().ToString()), "HTTP 404");
    }

    [Fact]
    public async Task Tenant_update_sets_weight_runtimes_and_rate_and_lifts_them_again()
    {
        var (tenantId, _) = await jobctl.NewTenantAsync();
        var id = tenantId.ToString();

        var updated = await AdminAsync("tenant", "update", id, "--weight", "7", "--allowed-runtimes", "exec,docker", "--rate-limit", "2.5");
        AssertOk(updated);
        Assert.Empty(updated.Stdout);
        var get = await AdminAsync("tenant", "get", id);
        Assert.Equal("7", Field(get, "weight"));
        Assert.Equal("exec,docker", Field(get, "allowed_runtimes"));
        Assert.Equal("2.5/s", Field(get, "rate_limit"));
        var json = Json(await AdminAsync("tenant", "get", id, "-o", "json"));
        Assert.Equal(7, json.GetProperty("weight").GetInt32());
        Assert.Equal(["exec", "docker"], json.GetProperty("allowed_runtimes").EnumerateArray().Select(r => r.GetString()));

        // A field not given stays as it was.
        AssertOk(await AdminAsync("tenant", "update", id, "--weight", "8"));
        var kept = await AdminAsync("tenant", "get", id);
        Assert.Equal("8", Field(kept, "weight"));
        Assert.Equal("exec,docker", Field(kept, "allowed_runtimes"));
        Assert.Equal("2.5/s", Field(kept, "rate_limit"));

        // '' lifts the runtime restriction, a rate of 0 removes the limit; the weight stays as it was.
        AssertOk(await AdminAsync("tenant", "update", id, "--allowed-runtimes", "", "--rate-limit", "0"));
        var lifted = await AdminAsync("tenant", "get", id);
        Assert.Equal("any", Field(lifted, "allowed_runtimes"));
        Assert.Equal("unlimited", Field(lifted, "rate_limit"));
        Assert.Equal("8", Field(lifted, "weight"));
    }

    [Fact]
    public async Task Tenant_update_with_a_weight_the_controller_refuses_exits_1_with_its_message()
    {
        var (tenantId, _) = await jobctl.NewTenantAsync();

        AssertFails(await AdminAsync("tenant", "update", tenantId.ToString(), "--weight", "1000000"), "HTTP 400");
    }

    [Fact]
    public async Task A_suspended_tenant_cannot_submit_or_run_until_it_is_resumed()
    {
        var (tenantId, key) = await jobctl.NewTenantAsync();
        var jobId = await CreateJobAsync(key);

        var suspended = await AdminAsync("tenant", "suspend", tenantId.ToString());
        Assert.Equal("suspended", Field(suspended, "state"));
        Assert.Matches(@"^\d{4}-\d{2}-\d{2}T", Field(suspended, "suspended_at"));

        var submit = await jobctl.RunAsync(key, "submit", "--name", "blocked", "--image", "exec", "-c", "true");
        AssertFails(submit, "suspended");
        Assert.Matches(@"^error: .*suspended.* \(tenant_suspended, HTTP 403\)\n$", submit.Stderr);
        AssertFails(await jobctl.RunAsync(key, "run", jobId.ToString()), "(tenant_suspended, HTTP 403)");
        AssertFails(await jobctl.RunAsync(key, "run", jobId.ToString(), "--count", "2"), "(tenant_suspended, HTTP 403)");
        // Reading still works: a suspended tenant can see and wind down what it has.
        AssertOk(await jobctl.RunAsync(key, "jobs", "list"));
        Assert.Equal("suspended", Field(await AdminAsync("tenant", "get", tenantId.ToString()), "state"));

        var resumed = Json(await AdminAsync("tenant", "resume", tenantId.ToString(), "-o", "json"));
        Assert.False(resumed.GetProperty("suspended").GetBoolean());
        var again = await jobctl.RunAsync(key, "submit", "--name", "unblocked", "--image", "exec", "-c", "true");
        AssertOk(again);
        Assert.Matches(@"^[0-9a-f-]{36}\n$", again.Stdout);
    }

    [Fact]
    public async Task Keys_create_gives_a_working_key_that_stops_working_when_revoked()
    {
        var (_, key) = await jobctl.NewTenantAsync();

        var created = await jobctl.RunAsync(key, "keys", "create", "--name", "ci");
        var keyId = Field(created, "id");
        var newKey = Field(created, "api_key");
        var prefix = Field(created, "prefix");
        Assert.Equal("ci", Field(created, "name"));
        Assert.StartsWith($"jp_{prefix}_", newKey, StringComparison.Ordinal);
        Assert.Contains("shown only once", created.Stderr, StringComparison.Ordinal);
        AssertOk(await jobctl.RunAsync(newKey, "jobs", "list"));

        var list = await jobctl.RunAsync(key, "keys", "list");
        AssertOk(list);
        Assert.Matches(@"^ID +NAME +PREFIX +CREATED_AT +LAST_USED_AT +REVOKED_AT +EXPIRES_AT\n", list.Stdout);
        Assert.Matches($@"^{keyId} +ci +{prefix} +\d{{4}}-\S+ +\S+ +- +-$", Assert.Single(Lines(list.Stdout), l => l.StartsWith(keyId, StringComparison.Ordinal)));
        Assert.DoesNotContain(newKey, list.Stdout, StringComparison.Ordinal);

        var revoked = await jobctl.RunAsync(key, "keys", "revoke", keyId);
        AssertOk(revoked);
        Assert.Empty(revoked.Stdout);
        Assert.Contains($"API key {keyId} revoked", revoked.Stderr, StringComparison.Ordinal);

        var refused = await jobctl.RunAsync(newKey, "jobs", "list");
        AssertFails(refused, "(unauthorized, HTTP 401)");
        var keys = Json(await jobctl.RunAsync(key, "keys", "list", "-o", "json")).GetProperty("api_keys");
        var listed = Assert.Single(keys.EnumerateArray(), k => k.GetProperty("id").GetString() == keyId);
        Assert.Equal(JsonValueKind.String, listed.GetProperty("revoked_at").ValueKind);
        // The key that revoked it still works.
        AssertOk(await jobctl.RunAsync(key, "jobs", "list"));
    }

    [Fact]
    public async Task Keys_revoke_of_an_unknown_key_exits_1_with_the_404()
    {
        var (_, key) = await jobctl.NewTenantAsync();

        AssertFails(await jobctl.RunAsync(key, "keys", "revoke", Guid.NewGuid().ToString()), "HTTP 404");
    }

    [Fact]
    public async Task Tenant_keys_manage_any_tenants_keys_and_list_shows_when_a_key_was_last_used()
    {
        var (tenantId, tenantKey) = await jobctl.NewTenantAsync();
        var id = tenantId.ToString();

        var created = Json(await AdminAsync("tenant", "keys", "create", id, "--name", "ops", "-o", "json"));
        var keyId = created.GetProperty("id").GetString()!;
        var prefix = created.GetProperty("prefix").GetString()!;
        var newKey = created.GetProperty("api_key").GetString()!;
        AssertOk(await jobctl.RunAsync(newKey, "jobs", "list"));

        // last_used_at is written off the request's path: wait for it rather than race it.
        JsonElement listed = default;
        for (var deadline = DateTime.UtcNow.AddSeconds(10); DateTime.UtcNow < deadline; await Task.Delay(100))
        {
            var keys = Json(await AdminAsync("tenant", "keys", "list", id, "-o", "json")).GetProperty("api_keys");
            listed = Assert.Single(keys.EnumerateArray(), k => k.GetProperty("id").GetString() == keyId);
            if (listed.TryGetProperty("last_used_at", out var used) && used.ValueKind == JsonValueKind.String)
                break;
        }
        Assert.Equal(JsonValueKind.String, listed.GetProperty("last_used_at").ValueKind);
        var table = await AdminAsync("tenant", "keys", "list", id);
        AssertOk(table);
        Assert.Matches($@"^{keyId} +ops +{prefix} +\d{{4}}-\S+ +\d{{4}}-\S+ +- +-$", Assert.Single(Lines(table.Stdout), l => l.StartsWith(keyId, StringComparison.Ordinal)));
        Assert.Equal(3, Lines(table.Stdout).Length); // header, the tenant's first key, ops

        // A tenant key is not an administrator credential, and a key is revoked only under its own tenant.
        AssertFails(await jobctl.RunAsync(tenantKey, "tenant", "keys", "list", id), "(unauthorized, HTTP 401)");
        var (otherTenant, _) = await jobctl.NewTenantAsync();
        AssertFails(await AdminAsync("tenant", "keys", "revoke", otherTenant.ToString(), keyId), "HTTP 404");
        AssertOk(await jobctl.RunAsync(newKey, "jobs", "list"));

        var revoked = await AdminAsync("tenant", "keys", "revoke", id, keyId);
        AssertOk(revoked);
        Assert.Contains($"API key {keyId} revoked", revoked.Stderr, StringComparison.Ordinal);
        AssertFails(await jobctl.RunAsync(newKey, "jobs", "list"), "(unauthorized, HTTP 401)");
    }

    [Fact]
    public async Task Worker_credentials_create_list_and_revoke()
    {
        var (tenantId, _) = await jobctl.NewTenantAsync();
        var name = $"pool-{Guid.NewGuid():N}";

        var created = await AdminAsync("worker-credentials", "create", "--name", name, "--tenant", tenantId.ToString());
        var credentialId = Field(created, "id");
        var token = Field(created, "token");
        var prefix = Field(created, "prefix");
        Assert.Equal(tenantId.ToString(), Field(created, "tenants"));
        Assert.Contains("shown only once", created.Stderr, StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.OK, await DequeueAsync(token));

        var list = await AdminAsync("worker-credentials", "list");
        AssertOk(list);
        Assert.Matches(@"^ID +NAME +PREFIX +TENANTS +CREATED_AT +LAST_USED_AT +REVOKED_AT\n", list.Stdout);
        Assert.Matches($@"^{credentialId} +{name} +{prefix} +{tenantId} +\d{{4}}-\S+ +\S+ +-$",
            Assert.Single(Lines(list.Stdout), l => l.StartsWith(credentialId, StringComparison.Ordinal)));
        Assert.DoesNotContain(token, list.Stdout, StringComparison.Ordinal);

        var revoked = await AdminAsync("worker-credentials", "revoke", credentialId);
        AssertOk(revoked);
        Assert.Contains($"worker credential {credentialId} revoked", revoked.Stderr, StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.Unauthorized, await DequeueAsync(token));
        var json = Json(await AdminAsync("worker-credentials", "list", "-o", "json")).GetProperty("worker_credentials");
        var listed = Assert.Single(json.EnumerateArray(), c => c.GetProperty("id").GetString() == credentialId);
        Assert.Equal(JsonValueKind.String, listed.GetProperty("revoked_at").ValueKind);
    }

    [Fact]
    public async Task Worker_credentials_for_an_unknown_tenant_are_refused()
    {
        var unknown = Guid.NewGuid().ToString();

        AssertFails(await AdminAsync("worker-credentials", "create", "--name", "nobody", "--tenant", unknown), $"no tenant {unknown}");
    }

    private async Task<HttpStatusCode> DequeueAsync(string workerToken)
    {
        using var worker = fixture.Host.Client(workerToken);
        using var response = await worker.PostAsJsonAsync(Routes.WorkerDequeue,
            new DequeueRequest { Limit = 1, WorkerId = "cli-credential-test", WaitSeconds = 0 }, JobplaneJsonContext.Default.DequeueRequest);
        return response.StatusCode;
    }

    [Fact]
    public async Task Audit_lists_the_changes_just_made_newest_first_and_pages()
    {
        var (tenantId, key) = await jobctl.NewTenantAsync();
        var id = tenantId.ToString();
        var credentialPrefix = Field(await AdminAsync("worker-credentials", "create", "--name", "audited", "--tenant", id), "prefix");
        var keyId = Field(await jobctl.RunAsync(key, "keys", "create", "--name", "temp"), "id");
        AssertOk(await jobctl.RunAsync(key, "keys", "revoke", keyId));
        AssertOk(await AdminAsync("tenant", "update", id, "--weight", "3"));
        AssertOk(await AdminAsync("tenant", "suspend", id));
        AssertOk(await AdminAsync("tenant", "resume", id));

        var table = await AdminAsync("audit", "--tenant", id);
        AssertOk(table);
        Assert.Matches(@"^ID +AT +ACTOR +ACTION +TENANT +TARGET +DETAILS\n", table.Stdout);
        var actions = Lines(table.Stdout).Skip(1).Select(l => Regex.Split(l, " {2,}")[3]).ToArray();
        // Creating a tenant also creates its first key, in the same transaction.
        // A credential restricted to the tenant is part of its record.
        Assert.Equal(["tenant.resume", "tenant.suspend", "tenant.update", "api_key.revoke", "api_key.create", "worker_credential.create",
            "api_key.create", "tenant.create"], actions);
        Assert.All(Lines(table.Stdout).Skip(1), l => Assert.Contains(id, l, StringComparison.Ordinal));
        Assert.Empty(table.Stderr);

        // And of the unfiltered log.
        var all = Json(await AdminAsync("audit", "--limit", "50", "-o", "json")).GetProperty("entries");
        Assert.Contains(all.EnumerateArray(), e =>
            e.GetProperty("action").GetString() == "worker_credential.create" && e.GetProperty("target").GetString() == credentialPrefix);

        var first = await AdminAsync("audit", "--tenant", id, "--limit", "2");
        AssertOk(first);
        Assert.Equal(["tenant.resume", "tenant.suspend"], Lines(first.Stdout).Skip(1).Select(l => Regex.Split(l, " {2,}")[3]));
        var next = NextPage().Match(first.Stderr);
        Assert.True(next.Success, first.ToString());
        var second = await AdminAsync("audit", "--tenant", id, "--limit", "2", "--before", next.Groups["before"].Value);
        Assert.Equal(["tenant.update", "api_key.revoke"], Lines(second.Stdout).Skip(1).Select(l => Regex.Split(l, " {2,}")[3]));
    }

    [Fact]
    public async Task A_rate_limited_request_exits_1_and_says_how_long_to_wait()
    {
        var (tenantId, key) = await jobctl.NewTenantAsync();
        // One request, then one every 100 s: the second request at once is refused.
        AssertOk(await AdminAsync("tenant", "update", tenantId.ToString(), "--rate-limit", "0.01", "--rate-limit-burst", "1"));

        AssertOk(await jobctl.RunAsync(key, "jobs", "list"));
        var limited = await jobctl.RunAsync(key, "jobs", "list");

        AssertFails(limited, "(rate_limited, HTTP 429)");
        var wait = RetryAfter().Match(limited.Stderr);
        Assert.True(wait.Success, limited.ToString());
        Assert.InRange(int.Parse(wait.Groups["seconds"].Value, System.Globalization.CultureInfo.InvariantCulture), 1, 100);
        Assert.Single(RetryAfter().Matches(limited.Stderr)); // said once, not twice
    }

    [GeneratedRegex(@"note: more entries: jobctl audit --before (?<before>\d+) --tenant [0-9a-f-]{36} --limit 2\n")]
    private static partial Regex NextPage();

    [GeneratedRegex(@"retry after (?<seconds>\d+) s")]
    private static partial Regex RetryAfter();
}
