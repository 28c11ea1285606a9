using System.Diagnostics;
using Jobplane.Api;
using Jobplane.Store;
using Jobplane.Testing;

namespace Jobplane.Store.Tests;

/// <summary>API keys and worker credentials through their lifecycle, the audit trail they leave, and the shared rate buckets.</summary>
public sealed class CredentialAndAuditTests(TestDatabase db) : StoreTestBase(db), IClassFixture<TestDatabase>
{
    private WorkerCredentialStore Credentials => new(Db.DataSource);
    private AuditLog Audit => new(Db.DataSource);

    [Fact]
    public async Task A_tenant_can_hold_several_keys_and_a_revoked_one_fails_at_once()
    {
        var tenant = await Tenants.CreateAsync(new TenantSettings { Name = $"t-{Guid.NewGuid():N}" }, Ct);
        var second = await Tenants.CreateKeyAsync(tenant.TenantId, "ci", Actors.TenantKey("x"), Ct);
        Assert.NotNull(second);
        Assert.Equal(tenant.TenantId, await Tenants.AuthenticateAsync(tenant.ApiKey, Ct));
        Assert.Equal(tenant.TenantId, await Tenants.AuthenticateAsync(second.ApiKey, Ct));

        var keys = await Tenants.ListKeysAsync(tenant.TenantId, Ct);
        Assert.Equal(["default", "ci"], keys.Select(k => k.Name));
        Assert.All(keys, k => Assert.Null(k.RevokedAt));
        Assert.Equal(second.Prefix, keys[1].Prefix);

        Assert.True(await Tenants.RevokeKeyAsync(tenant.TenantId, second.Id, Actors.Administrator, Ct));
        Assert.Null(await Tenants.AuthenticateAsync(second.ApiKey, Ct));
        Assert.Equal(tenant.TenantId, await Tenants.AuthenticateAsync(tenant.ApiKey, Ct));
        Assert.NotNull((await Tenants.ListKeysAsync(tenant.TenantId, Ct))[1].RevokedAt);
        // Idempotent, and scoped: another tenant cannot revoke (or even find) this key.
        Assert.True(await Tenants.RevokeKeyAsync(tenant.TenantId, second.Id, Actors.Administrator, Ct));
        var other = await NewTenantAsync();
        var third = await Tenants.CreateKeyAsync(tenant.TenantId, "third", Actors.Administrator, Ct);
        Assert.False(await Tenants.RevokeKeyAsync(other, third!.Id, Actors.Administrator, Ct));
        Assert.Equal(tenant.TenantId, await Tenants.AuthenticateAsync(third.ApiKey, Ct));
        Assert.Null(await Tenants.CreateKeyAsync(Guid.NewGuid(), "nobody", Actors.Administrator, Ct));
    }

    [Fact]
    public async Task Worker_credentials_carry_their_tenant_restriction_and_stop_working_when_revoked()
    {
        var tenant = await NewTenantAsync();
        var open = await Credentials.CreateAsync("fleet", null, Actors.Administrator, Ct);
        var narrow = await Credentials.CreateAsync("team-a", [tenant], Actors.Administrator, Ct);
        Assert.StartsWith("jpw_", open.Token);

        Assert.Null((await Credentials.FindAsync(open.Token, Ct))!.TenantIds);
        Assert.Equal([tenant], (await Credentials.FindAsync(narrow.Token, Ct))!.TenantIds!);
        Assert.Null(await Credentials.FindAsync(open.Token[..^2] + "xx", Ct));
        // A tenant key is not a worker credential, nor the reverse.
        var t = await Tenants.CreateAsync(new TenantSettings { Name = $"t-{Guid.NewGuid():N}" }, Ct);
        Assert.Null(await Credentials.FindAsync(t.ApiKey, Ct));
        Assert.Null(await Tenants.AuthenticateAsync(open.Token, Ct));

        Assert.True(await Credentials.RevokeAsync(narrow.Id, Actors.Administrator, Ct));
        Assert.Null(await Credentials.FindAsync(narrow.Token, Ct));
        Assert.NotNull(await Credentials.FindAsync(open.Token, Ct));
        Assert.False(await Credentials.RevokeAsync(Guid.NewGuid(), Actors.Administrator, Ct));
        // Each tenant's audit shows the credentials that can serve it.
        var audit = await Audit.ListAsync(tenant, null, 10, Ct);
        Assert.Equal(["worker_credential.revoke", "worker_credential.create", "api_key.create", "tenant.create"], audit.Entries.Select(e => e.Action));
        var listed = await Credentials.ListAsync(Ct);
        Assert.NotNull(listed.Single(c => c.Id == narrow.Id).RevokedAt);
        Assert.Null(listed.Single(c => c.Id == open.Id).RevokedAt);
    }

    [Fact]
    public async Task A_tenant_change_is_audited_as_the_api_spells_the_request()
    {
        // Users read the audit log: its details keep the names (and values) of the tenant request
        // that made the change, though the store takes its own record.
        var name = $"t-{Guid.NewGuid():N}";
        var settings = new TenantSettings
        {
            Name = name,
            RateLimit = 2.5,
            RateLimitBurst = 7,
            MaxConcurrentExecutions = 3,
            Weight = 9,
            AllowedRuntimes = ["exec", "docker"],
            AllowNetwork = true,
            RetentionDays = 30,
            LogMaxBytesPerExecution = 1L << 30,
            LogFollowMax = 4,
            MaxFleetShare = 0.5,
        };
        var request = new TenantRequest
        {
            Name = name,
            RateLimit = 2.5,
            RateLimitBurst = 7,
            MaxConcurrentExecutions = 3,
            Weight = 9,
            AllowedRuntimes = ["exec", "docker"],
            AllowNetwork = true,
            RetentionDays = 30,
            LogMaxBytesPerExecution = 1L << 30,
            LogFollowMax = 4,
            MaxFleetShare = 0.5,
        };
        Assert.Equal(typeof(TenantRequest).GetProperties().Select(p => p.Name).Order(),
            typeof(TenantSettings).GetProperties().Select(p => p.Name).Order());
        var id = (await Tenants.CreateAsync(settings, Ct)).TenantId;
        Assert.True(await Tenants.UpdateAsync(id, new TenantSettings { Weight = 2, AllowedRuntimes = [] }, Ct));

        var wire = System.Text.Json.JsonSerializer.Serialize(request, JobplaneJsonContext.Default.TenantRequest);
        var updateWire = System.Text.Json.JsonSerializer.Serialize(new TenantRequest { Weight = 2, AllowedRuntimes = [] },
            JobplaneJsonContext.Default.TenantRequest);
        await using var cmd = Db.DataSource.CreateCommand("""
            select count(*) filter (where action = 'tenant.create' and details = $2::jsonb),
                   count(*) filter (where action = 'tenant.update' and details = $3::jsonb)
            from audit_log where tenant_id = $1
            """);
        cmd.Parameters.Add(new Npgsql.NpgsqlParameter { Value = id });
        cmd.Parameters.Add(new Npgsql.NpgsqlParameter { Value = wire });
        cmd.Parameters.Add(new Npgsql.NpgsqlParameter { Value = updateWire });
        await using var reader = await cmd.ExecuteReaderAsync(Ct);
        Assert.True(await reader.ReadAsync(Ct));
        Assert.Equal((1L, 1L), (reader.GetInt64(0), reader.GetInt64(1)));
    }

    [Fact]
    public async Task Every_administrative_and_credential_change_leaves_an_audit_record()
    {
        var created = await Tenants.CreateAsync(new TenantSettings { Name = $"t-{Guid.NewGuid():N}", RateLimit = 5 }, Ct);
        var id = created.TenantId;
        await Tenants.UpdateAsync(id, new TenantSettings { Weight = 4 }, Ct);
        await Tenants.SetSuspendedAsync(id, true, Ct);
        await Tenants.SetSuspendedAsync(id, false, Ct);
        var key = await Tenants.CreateKeyAsync(id, "deploy", Actors.TenantKey("abc"), Ct);
        await Tenants.RevokeKeyAsync(id, key!.Id, Actors.TenantKey("abc"), Ct);
        // A change that changes nothing records nothing.
        Assert.False(await Tenants.UpdateAsync(Guid.NewGuid(), new TenantSettings { Weight = 2 }, Ct));
        Assert.True(await Tenants.UpdateAsync(id, new TenantSettings { Weight = 4, AllowNetwork = false }, Ct));
        Assert.True(await Tenants.UpdateAsync(id, new TenantSettings(), Ct));
        Assert.False((await Tenants.SetSuspendedAsync(id, false, Ct))!.Suspended);
        Assert.Null(await Tenants.SetSuspendedAsync(Guid.NewGuid(), true, Ct));

        var page = await Audit.ListAsync(id, null, 100, Ct);
        Assert.Equal(["api_key.revoke", "api_key.create", "tenant.resume", "tenant.suspend", "tenant.update", "api_key.create", "tenant.create"],
            page.Entries.Select(e => e.Action));
        Assert.Equal("api_key:abc", page.Entries[0].Actor);
        Assert.Equal(Actors.Administrator, page.Entries[^1].Actor);
        Assert.Equal(4, page.Entries[4].Details!.Value.GetProperty("weight").GetInt32());
        Assert.Null(page.NextBeforeId);

        var firstPage = await Audit.ListAsync(id, null, 3, Ct);
        Assert.Equal(3, firstPage.Entries.Count);
        var rest = await Audit.ListAsync(id, firstPage.NextBeforeId, 100, Ct);
        Assert.Equal(page.Entries.Skip(3).Select(e => e.Id), rest.Entries.Select(e => e.Id));
    }

    [Fact]
    public async Task A_shared_bucket_never_grants_more_than_burst_plus_rate_times_time()
    {
        var tenant = await NewTenantAsync();
        var buckets = new RateBucketStore(Db.DataSource);
        const double rate = 50;
        const int burst = 20;
        var clock = Stopwatch.StartNew();
        var granted = 0;
        // Eight concurrent takers, as if eight replicas were draining the same tenant's bucket.
        await Task.WhenAll(Enumerable.Range(0, 8).Select(async _ =>
        {
            while (clock.Elapsed < TimeSpan.FromSeconds(1.5))
            {
                var grant = await buckets.TakeAsync(tenant, rate, burst, 3, Ct);
                Assert.InRange(grant.Granted, 0, 3);
                Interlocked.Add(ref granted, grant.Granted);
            }
        }));
        var elapsed = clock.Elapsed.TotalSeconds;
        Assert.InRange(granted, burst, burst + rate * elapsed + 1);
    }
}
