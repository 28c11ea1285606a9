namespace Jobplane.Cli.Tests;

/// <summary>A tenant's retention through jobctl: tenant update --retention-days, tenant get, and a refused value.</summary>
public sealed partial class LiveTenancyCommandTests
{
    [Fact]
    public async Task Tenant_update_sets_and_clears_the_retention_and_tenant_get_shows_it()
    {
        var (tenantId, _) = await jobctl.NewTenantAsync();
        var id = tenantId.ToString();
        Assert.Equal("default", Field(await AdminAsync("tenant", "get", id), "retention_days"));

        AssertOk(await AdminAsync("tenant", "update", id, "--retention-days", "14"));
        Assert.Equal("14", Field(await AdminAsync("tenant", "get", id), "retention_days"));
        Assert.Equal(14, Json(await AdminAsync("tenant", "get", id, "-o", "json")).GetProperty("retention_days").GetInt32());

        AssertFails(await AdminAsync("tenant", "update", id, "--retention-days", "40000"), "retention_days must be between 0 and 36500");
        Assert.Equal("14", Field(await AdminAsync("tenant", "get", id), "retention_days"));

        AssertOk(await AdminAsync("tenant", "update", id, "--retention-days", "0"));
        Assert.Equal("default", Field(await AdminAsync("tenant", "get", id), "retention_days"));
    }
}
