using System.Net;
using Jobplane.Api;
using Jobplane.Store;
using Jobplane.Testing;

namespace Jobplane.Controller.Tests;

/// <summary>Each route group admits exactly one kind of principal; everything else is 401 with a JSON body.</summary>
public sealed class AuthTests(ControllerFixture fixture) : IClassFixture<ControllerFixture>
{
    private readonly ControllerHost _host = fixture.Host;

    private enum Who { Administrator, Tenant, Worker }

    private sealed record Route(Who Needs, HttpMethod Method, string Path, string? Body);

    private static List<Route> Routes(Guid id, Guid tenantId) =>
    [
        new(Who.Administrator, HttpMethod.Post, "/tenants", $$"""{"name": "intruder-{{id}}"}"""),
        new(Who.Administrator, HttpMethod.Patch, $"/tenants/{tenantId}", """{"max_concurrent_executions": 1}"""),
        new(Who.Tenant, HttpMethod.Post, "/jobs", $$"""{"name": "intruder-{{id}}", "image": "exec"}"""),
        new(Who.Tenant, HttpMethod.Get, "/jobs", null),
        new(Who.Tenant, HttpMethod.Get, $"/jobs/{id}", null),
        new(Who.Tenant, HttpMethod.Post, $"/jobs/{id}/run", null),
        new(Who.Tenant, HttpMethod.Get, "/executions", null),
        new(Who.Tenant, HttpMethod.Get, $"/executions/{id}", null),
        new(Who.Tenant, HttpMethod.Get, $"/executions/{id}/attempts", null),
        new(Who.Tenant, HttpMethod.Get, $"/executions/{id}/logs", null),
        new(Who.Tenant, HttpMethod.Get, $"/executions/{id}/logs?follow=true", null),
        new(Who.Tenant, HttpMethod.Get, "/executions/dlq", null),
        new(Who.Tenant, HttpMethod.Post, $"/executions/dlq/{id}/retry", null),
        new(Who.Worker, HttpMethod.Post, "/internal/executions/dequeue", """{"limit": 1}"""),
        new(Who.Worker, HttpMethod.Post, "/internal/heartbeats", """{"leases": []}"""),
        new(Who.Worker, HttpMethod.Put, $"/internal/executions/{id}/heartbeat", $$"""{"lease_token": "{{id}}"}"""),
        new(Who.Worker, HttpMethod.Post, $"/internal/executions/{id}/logs", $$"""{"lease_token": "{{id}}", "content": "x"}"""),
        new(Who.Worker, HttpMethod.Put, $"/internal/executions/{id}/result", $$"""{"lease_token": "{{id}}", "exit_code": 0}"""),
        new(Who.Worker, HttpMethod.Post, $"/internal/executions/{id}/release", $$"""{"lease_token": "{{id}}"}"""),
    ];

    [Fact]
    public async Task Every_route_group_refuses_missing_and_foreign_credentials_with_401_json()
    {
        var tenant = await _host.CreateTenantAsync();
        Assert.True(ApiKeys.TryParse(tenant.ApiKey, out var prefix, out var secret));
        var wrongSecret = $"{ApiKeys.Scheme}{prefix}_{new string('A', secret.Length)}";
        var unknownPrefix = $"{ApiKeys.Scheme}{"000000000000"}_{secret}";

        // (label, token, the principal it is — null when it is nobody)
        var presented = new List<(string Label, string? Token, Who? Is)>
        {
            ("no credentials", null, null),
            ("tenant API key", tenant.ApiKey, Who.Tenant),
            ("worker token", ControllerHost.WorkerToken, Who.Worker),
            ("admin secret", ControllerHost.AdminSecret, Who.Administrator),
            ("garbage key", "not-a-key-at-all", null),
            ("well-formed key, wrong secret", wrongSecret, null),
            ("well-formed key, unknown prefix", unknownPrefix, null),
        };

        var failures = new List<string>();
        var checkedCount = 0;
        var id = Guid.NewGuid();
        foreach (var route in Routes(id, tenant.TenantId))
        {
            foreach (var (label, token, who) in presented)
            {
                if (who == route.Needs) continue;
                using var client = _host.Client(token);
                using var response = await client.SendAsync(Api.Request(route.Method, route.Path, route.Body));
                checkedCount++;
                try
                {
                    await Api.AssertErrorAsync(response, HttpStatusCode.Unauthorized, ErrorCodes.Unauthorized);
                }
                catch (Exception e)
                {
                    failures.Add($"{label} on {route.Method} {route.Path}: {e.Message}");
                }
            }
        }
        Assert.True(failures.Count == 0, string.Join("\n", failures));
        Assert.True(checkedCount > 100);

        // Nothing the refused requests carried was acted on. Looked up by this run's names, not by
        // counting every row: other tests of the class may create tenants and jobs of their own.
        Assert.Equal(0L, await _host.Database.ScalarAsync<long>("select count(*) from tenants where name = $1", $"intruder-{id}"));
        Assert.Equal(0, await _host.Database.ScalarAsync<int>("select max_concurrent_executions from tenants where id = $1", tenant.TenantId));
        Assert.Equal(0L, await _host.Database.ScalarAsync<long>("select count(*) from jobs where name = $1", $"intruder-{id}"));
    }

    [Fact]
    public async Task Admin_secret_is_also_accepted_in_the_x_system_secret_header_and_nowhere_else()
    {
        using var client = _host.Client();
        using var request = Api.Request(HttpMethod.Post, "/tenants", $$"""{"name": "hdr-{{Guid.NewGuid():N}}"}""");
        request.Headers.Add("X-System-Secret", ControllerHost.AdminSecret);
        using var created = await client.SendAsync(request);
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);

        using var jobs = Api.Request(HttpMethod.Get, "/jobs");
        jobs.Headers.Add("X-System-Secret", ControllerHost.AdminSecret);
        await Api.AssertErrorAsync(await client.SendAsync(jobs), HttpStatusCode.Unauthorized, ErrorCodes.Unauthorized);
    }

    [Fact]
    public async Task A_new_tenant_gets_an_api_key_once_that_works_and_only_its_hash_is_stored()
    {
        using var admin = _host.AdminClient();
        var name = $"acme-{Guid.NewGuid():N}";
        var response = await admin.PostAsync("/tenants", Api.RawJson($$"""{"name": "{{name}}"}"""));
        var tenant = await Api.ReadAsync(response, Api.Json.CreateTenantResponse, HttpStatusCode.Created);
        Assert.Equal(name, tenant.Name);
        Assert.NotEqual(Guid.Empty, tenant.TenantId);
        Assert.StartsWith(ApiKeys.Scheme, tenant.ApiKey, StringComparison.Ordinal);
        Assert.True(ApiKeys.TryParse(tenant.ApiKey, out var prefix, out var secret));

        using var client = _host.Client(tenant.ApiKey);
        var jobs = await Api.ReadAsync(await client.GetAsync("/jobs"), Api.Json.JobList);
        Assert.Empty(jobs.Jobs);

        // Every column of the key's row, as text: neither the key nor its secret part appears.
        var row = await _host.Database.ScalarAsync<string>(
            "select row_to_json(k)::text from api_keys k where tenant_id = $1", tenant.TenantId);
        Assert.Contains(prefix, row, StringComparison.Ordinal);
        Assert.DoesNotContain(secret, row, StringComparison.Ordinal);
        Assert.DoesNotContain(tenant.ApiKey, row, StringComparison.Ordinal);
        var hex = await _host.Database.ScalarAsync<string>(
            "select encode(secret_hash, 'hex') || encode(secret_hash, 'base64') from api_keys where tenant_id = $1", tenant.TenantId);
        Assert.DoesNotContain(secret, hex, StringComparison.Ordinal);
        // Nor anywhere in the tenant's own row.
        var tenantRow = await _host.Database.ScalarAsync<string>("select row_to_json(t)::text from tenants t where id = $1", tenant.TenantId);
        Assert.DoesNotContain(secret, tenantRow, StringComparison.Ordinal);
    }
}
