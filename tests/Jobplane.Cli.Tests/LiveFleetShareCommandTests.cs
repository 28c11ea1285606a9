namespace Jobplane.Cli.Tests;

/// <summary>A tenant's fleet share through jobctl: tenant create/update --max-fleet-share, tenant get, and refused values.</summary>
public sealed partial class LiveTenancyCommandTests
{
    [Fact]
    public async Task Tenant_create_and_update_set_the_fleet_share_and_tenant_get_shows_it()
    {
        var (tenantId, _) = await jobctl.NewTenantAsync();
        var id = tenantId.ToString();
        Assert.Equal("default", Field(await AdminAsync("tenant", "get", id), "max_fleet_share"));

        AssertOk(await AdminAsync("tenant", "update", id, "--max-fleet-share", "0.3"));
        Assert.Equal("0.3", Field(await AdminAsync("tenant", "get", id), "max_fleet_share"));
        Assert.Equal(0.3, Json(await AdminAsync("tenant", "get", id, "-o", "json")).GetProperty("max_fleet_share").GetDouble());

        AssertFails(await AdminAsync("tenant", "update", id, "--max-fleet-share", "0"), "max_fleet_share must be a fraction");
        AssertFails(await AdminAsync("tenant", "update", id, "--max-fleet-share", "1.5"), "max_fleet_share must be a fraction");
        Assert.Equal("0.3", Field(await AdminAsync("tenant", "get", id), "max_fleet_share"));

        var created = Json(await AdminAsync("tenant", "create", "--name", $"cli-{Guid.NewGuid():N}", "--max-fleet-share", "1", "-o", "json"));
        var createdId = created.GetProperty("tenant_id").GetString()!;
        Assert.Equal("1", Field(await AdminAsync("tenant", "get", createdId), "max_fleet_share"));
    }
}
