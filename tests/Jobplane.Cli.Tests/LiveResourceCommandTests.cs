namespace Jobplane.Cli.Tests;

/// <summary>
/// A job's resources and network through jobctl (create/submit flags, jobs list), and the tenant's
/// network permission (tenant create/update --allow-network, tenant get), against the real controller.
/// </summary>
public sealed partial class LiveTenancyCommandTests
{
    [Fact]
    public async Task Create_and_submit_send_resources_and_jobs_list_shows_them()
    {
        var (_, key) = await jobctl.NewTenantAsync();

        AssertOk(await jobctl.RunAsync(key, "create", "--name", "sized", "--image", "exec", "--memory", "32", "--cpus", "0.5", "--pids", "20", "--", "true"));
        AssertOk(await jobctl.RunAsync(key, "submit", "--name", "pids-only", "--image", "exec", "--pids", "7", "-c", "true"));
        AssertOk(await jobctl.RunAsync(key, "create", "--name", "plain", "--image", "exec", "-c", "true"));

        var jobs = Json(await jobctl.RunAsync(key, "jobs", "list", "-o", "json")).GetProperty("jobs").EnumerateArray()
            .ToDictionary(j => j.GetProperty("name").GetString()!);
        var sized = jobs["sized"].GetProperty("resources");
        Assert.Equal(32, sized.GetProperty("memory_mib").GetInt32());
        Assert.Equal(0.5, sized.GetProperty("cpus").GetDouble());
        Assert.Equal(20, sized.GetProperty("pids").GetInt32());
        Assert.False(jobs["sized"].GetProperty("network").GetBoolean());
        Assert.Equal(7, jobs["pids-only"].GetProperty("resources").GetProperty("pids").GetInt32());
        Assert.False(jobs["pids-only"].GetProperty("resources").TryGetProperty("memory_mib", out _));
        Assert.False(jobs["plain"].TryGetProperty("resources", out _));

        // The table gains a RESOURCES column because some job asks for something.
        var table = await jobctl.RunAsync(key, "jobs", "list");
        AssertOk(table);
        var lines = Lines(table.Stdout);
        Assert.Matches(@"^ID +NAME +IMAGE +COMMAND +PRIORITY +TIMEOUT +MAX_ATTEMPTS +RESOURCES +CREATED_AT$", lines[0]);
        Assert.Contains(lines, l => l.Contains(" sized ", StringComparison.Ordinal) && l.Contains("memory=32MiB cpus=0.5 pids=20", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.Contains(" pids-only ", StringComparison.Ordinal) && l.Contains(" pids=7 ", StringComparison.Ordinal));
        Assert.Matches(@" plain +exec +true +50 +3600s +3 +- +\d{4}-", Assert.Single(lines, l => l.Contains(" plain ", StringComparison.Ordinal)));
    }

    [Fact]
    public async Task A_resource_the_controller_refuses_exits_1_naming_the_field()
    {
        var (_, key) = await jobctl.NewTenantAsync();

        AssertFails(await jobctl.RunAsync(key, "create", "--name", "huge", "--image", "exec", "--memory", "2000000", "-c", "true"),
            "resources.memory_mib must be between 6 and 1048576 (got 2000000)");
        AssertFails(await jobctl.RunAsync(key, "create", "--name", "huge", "--image", "exec", "--cpus", "4096", "-c", "true"), "resources.cpus");
        Assert.Empty(Json(await jobctl.RunAsync(key, "jobs", "list", "-o", "json")).GetProperty("jobs").EnumerateArray());
    }

    [Fact]
    public async Task Network_is_refused_until_tenant_update_allows_it_and_tenant_get_shows_the_permission()
    {
        var (tenantId, key) = await jobctl.NewTenantAsync();
        var id = tenantId.ToString();
        Assert.Equal("false", Field(await AdminAsync("tenant", "get", id), "allow_network"));

        var refused = await jobctl.RunAsync(key, "submit", "--name", "fetch", "--image", "exec", "--network", "-c", "true");
        AssertFails(refused, "an administrator must allow network for the tenant");
        Assert.Contains("network_not_allowed", refused.Stderr, StringComparison.Ordinal);

        AssertOk(await AdminAsync("tenant", "update", id, "--allow-network", "true"));
        Assert.Equal("true", Field(await AdminAsync("tenant", "get", id), "allow_network"));
        AssertOk(await jobctl.RunAsync(key, "submit", "--name", "fetch", "--image", "exec", "--network", "-c", "true"));
        var job = Assert.Single(Json(await jobctl.RunAsync(key, "jobs", "list", "-o", "json")).GetProperty("jobs").EnumerateArray());
        Assert.True(job.GetProperty("network").GetBoolean());
        Assert.Contains(" network ", Lines((await jobctl.RunAsync(key, "jobs", "list")).Stdout)[1], StringComparison.Ordinal);

        AssertOk(await AdminAsync("tenant", "update", id, "--allow-network", "false"));
        Assert.Equal("false", Field(await AdminAsync("tenant", "get", id), "allow_network"));
        var created = Json(await AdminAsync("tenant", "create", "--name", $"open-{Guid.NewGuid():N}", "--allow-network", "true", "-o", "json"));
        Assert.Equal("true", Field(await AdminAsync("tenant", "get", created.GetProperty("tenant_id").GetString()!), "allow_network"));
    }

    [Fact]
    public async Task Create_sends_run_as_root_and_jobs_list_shows_it()
    {
        var (_, key) = await jobctl.NewTenantAsync();

        AssertOk(await jobctl.RunAsync(key, "create", "--name", "rooted", "--image", "exec", "--run-as-root", "--", "id", "-u"));
        AssertOk(await jobctl.RunAsync(key, "create", "--name", "plain", "--image", "exec", "-c", "true"));

        var jobs = Json(await jobctl.RunAsync(key, "jobs", "list", "-o", "json")).GetProperty("jobs").EnumerateArray()
            .ToDictionary(j => j.GetProperty("name").GetString()!);
        Assert.True(jobs["rooted"].GetProperty("run_as_root").GetBoolean());
        Assert.False(jobs["plain"].GetProperty("run_as_root").GetBoolean());
        var lines = Lines((await jobctl.RunAsync(key, "jobs", "list")).Stdout);
        Assert.Matches(@"^ID +NAME +IMAGE +COMMAND +PRIORITY +TIMEOUT +MAX_ATTEMPTS +RESOURCES +CREATED_AT$", lines[0]);
        Assert.Contains(" root ", Assert.Single(lines, l => l.Contains(" rooted ", StringComparison.Ordinal)), StringComparison.Ordinal);
    }
}
