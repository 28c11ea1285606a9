namespace Jobplane.Cli.Tests;

/// <summary>A tenant's own log limits through jobctl: tenant create/update --log-max-bytes and --log-follow-max, tenant get, refused values.</summary>
public sealed partial class LiveTenancyCommandTests
{
    [Fact]
    public async Task Tenant_create_and_update_set_and_clear_the_log_limits_and_tenant_get_shows_them()
    {
        var created = Json(await AdminAsync("tenant", "create", "--name", $"chatty-{Guid.NewGuid():N}",
            "--log-max-bytes", "64MiB", "--log-follow-max", "40", "-o", "json"));
        var id = created.GetProperty("tenant_id").GetString()!;
        var shown = await AdminAsync("tenant", "get", id);
        Assert.Equal("64 MiB", Field(shown, "log_max_bytes_per_execution"));
        Assert.Equal("40", Field(shown, "log_follow_max"));
        var json = Json(await AdminAsync("tenant", "get", id, "-o", "json"));
        Assert.Equal(64L << 20, json.GetProperty("log_max_bytes_per_execution").GetInt64());
        Assert.Equal(40, json.GetProperty("log_follow_max").GetInt32());

        AssertOk(await AdminAsync("tenant", "update", id, "--log-max-bytes", "1536"));
        Assert.Equal("1536 bytes", Field(await AdminAsync("tenant", "get", id), "log_max_bytes_per_execution"));

        AssertFails(await AdminAsync("tenant", "update", id, "--log-max-bytes", "512"), "log_max_bytes_per_execution must be a number of bytes between 1024");
        AssertFails(await AdminAsync("tenant", "update", id, "--log-follow-max", "100001"), "log_follow_max must be between 0 and 100000");
        Assert.Equal("40", Field(await AdminAsync("tenant", "get", id), "log_follow_max"));

        AssertOk(await AdminAsync("tenant", "update", id, "--log-max-bytes", "0", "--log-follow-max", "0"));
        shown = await AdminAsync("tenant", "get", id);
        Assert.Equal("default", Field(shown, "log_max_bytes_per_execution"));
        Assert.Equal("default", Field(shown, "log_follow_max"));
    }
}
