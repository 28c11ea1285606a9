using Jobplane.Api;
using Jobplane.Store;
using Jobplane.Testing;

namespace Jobplane.Store.Tests;

public sealed class ApiKeyTests
{
    [Fact]
    public void A_generated_key_parses_and_its_secret_matches_the_stored_hash()
    {
        var key = ApiKeys.Generate();

        Assert.StartsWith("jp_", key.Key);
        Assert.True(ApiKeys.TryParse(key.Key, out var prefix, out var secret));
        Assert.Equal(key.Prefix, prefix);
        Assert.True(ApiKeys.Matches(secret, key.SecretHash));
        Assert.DoesNotContain(secret, Convert.ToBase64String(key.SecretHash));
    }

    [Fact]
    public void A_tampered_secret_does_not_match()
    {
        var key = ApiKeys.Generate();
        Assert.True(ApiKeys.TryParse(key.Key, out _, out var secret));

        var tampered = secret[..^1] + (secret[^1] == 'A' ? 'B' : 'A');

        Assert.False(ApiKeys.Matches(tampered, key.SecretHash));
        Assert.False(ApiKeys.Matches(secret + "x", key.SecretHash));
        Assert.False(ApiKeys.Matches(ApiKeys.Generate().Key, key.SecretHash));
    }

    [Fact]
    public void Generated_keys_are_unique()
    {
        var keys = Enumerable.Range(0, 100).Select(_ => ApiKeys.Generate()).ToList();
        Assert.Equal(100, keys.Select(k => k.Key).Distinct().Count());
        Assert.Equal(100, keys.Select(k => k.Prefix).Distinct().Count());
    }

    [Theory]
    [InlineData("")]
    [InlineData("hello")]
    [InlineData("jp_")]
    [InlineData("jp_abc_def")]
    [InlineData("xx_0123456789ab_0123456789012345678901234567890123")]
    [InlineData("jp_0123456789ab_short")]
    [InlineData("jp_0123456789abc_01234567890123456789012345678901234")]
    public void Garbage_does_not_parse(string presented)
    {
        Assert.False(ApiKeys.TryParse(presented, out _, out _));
    }
}

public sealed class TenantStoreTests(TestDatabase db) : StoreTestBase(db), IClassFixture<TestDatabase>
{
    [Fact]
    public async Task A_key_authenticates_as_its_own_tenant()
    {
        var a = await Tenants.CreateAsync(new TenantSettings { Name = $"a-{Guid.NewGuid():N}" }, Ct);
        var b = await Tenants.CreateAsync(new TenantSettings { Name = $"b-{Guid.NewGuid():N}" }, Ct);

        Assert.Equal(a.TenantId, await Tenants.AuthenticateAsync(a.ApiKey, Ct));
        Assert.Equal(b.TenantId, await Tenants.AuthenticateAsync(b.ApiKey, Ct));
        Assert.NotEqual(a.ApiKey, b.ApiKey);
    }

    [Fact]
    public async Task A_wrong_secret_with_the_right_prefix_is_refused()
    {
        var t = await Tenants.CreateAsync(new TenantSettings { Name = $"t-{Guid.NewGuid():N}" }, Ct);
        Assert.True(ApiKeys.TryParse(t.ApiKey, out var prefix, out var secret));
        var otherSecret = ApiKeys.Generate().Key.Split('_', 3)[2];

        Assert.Null(await Tenants.AuthenticateAsync($"jp_{prefix}_{otherSecret}", Ct));
        Assert.Null(await Tenants.AuthenticateAsync($"jp_{prefix}_{secret[..^1]}{(secret[^1] == 'A' ? 'B' : 'A')}", Ct));
    }

    [Theory]
    [InlineData("")]
    [InlineData("garbage")]
    [InlineData("Bearer jp_x")]
    [InlineData("jp_000000000000_0123456789012345678901234567890123456789abc")]
    public async Task Garbage_and_unknown_keys_authenticate_as_nobody(string presented)
    {
        await NewTenantAsync();
        Assert.Null(await Tenants.AuthenticateAsync(presented, Ct));
    }

    [Fact]
    public async Task Only_a_hash_of_the_secret_is_stored()
    {
        var t = await Tenants.CreateAsync(new TenantSettings { Name = $"t-{Guid.NewGuid():N}" }, Ct);
        Assert.True(ApiKeys.TryParse(t.ApiKey, out var prefix, out var secret));

        var stored = await Db.ScalarAsync<byte[]>("select secret_hash from api_keys where tenant_id = $1", t.TenantId);

        Assert.Equal(ApiKeys.Hash(secret), stored);
        Assert.Equal(prefix, await Db.ScalarAsync<string>("select prefix from api_keys where tenant_id = $1", t.TenantId));
    }

    [Fact]
    public async Task A_duplicate_name_is_a_conflict()
    {
        var name = $"acme-{Guid.NewGuid():N}";
        var first = await Tenants.CreateAsync(new TenantSettings { Name = name }, Ct);

        var e = await Assert.ThrowsAsync<StoreConflictException>(() => Tenants.CreateAsync(new TenantSettings { Name = name }, Ct));

        Assert.Contains(name, e.Message);
        Assert.Equal(1L, await Db.ScalarAsync<long>("select count(*) from tenants where name = $1", name));
        // The failed create left no orphan key behind.
        Assert.Equal(1L, await Db.ScalarAsync<long>(
            "select count(*) from api_keys k join tenants t on t.id = k.tenant_id where t.name = $1", name));
        Assert.Equal(first.TenantId, await Tenants.AuthenticateAsync(first.ApiKey, Ct));
    }

    [Fact]
    public async Task Updating_an_unknown_tenant_returns_false()
    {
        Assert.False(await Tenants.UpdateAsync(Guid.NewGuid(), new TenantSettings { MaxConcurrentExecutions = 5 }, Ct));
    }

    [Fact]
    public async Task Update_changes_only_the_given_fields()
    {
        var t = await Tenants.CreateAsync(new TenantSettings { Name = $"t-{Guid.NewGuid():N}", RateLimit = 10, RateLimitBurst = 20 }, Ct);

        Assert.True(await Tenants.UpdateAsync(t.TenantId, new TenantSettings { MaxConcurrentExecutions = 4 }, Ct));

        Assert.Equal(4, await Db.ScalarAsync<int>("select max_concurrent_executions from tenants where id = $1", t.TenantId));
        Assert.Equal(10.0, await Db.ScalarAsync<double>("select rate_limit from tenants where id = $1", t.TenantId));
        Assert.Equal(20, await Db.ScalarAsync<int>("select rate_limit_burst from tenants where id = $1", t.TenantId));
        Assert.Equal(t.Name, await Db.ScalarAsync<string>("select name from tenants where id = $1", t.TenantId));
    }

    [Fact]
    public async Task Renaming_to_a_taken_name_is_a_conflict()
    {
        var a = await Tenants.CreateAsync(new TenantSettings { Name = $"a-{Guid.NewGuid():N}" }, Ct);
        var b = await Tenants.CreateAsync(new TenantSettings { Name = $"b-{Guid.NewGuid():N}" }, Ct);

        await Assert.ThrowsAsync<StoreConflictException>(() => Tenants.UpdateAsync(b.TenantId, new TenantSettings { Name = a.Name }, Ct));
        Assert.Equal(b.Name, await Db.ScalarAsync<string>("select name from tenants where id = $1", b.TenantId));
    }
}
