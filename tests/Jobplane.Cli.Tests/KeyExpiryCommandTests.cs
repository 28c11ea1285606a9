using System.Text.Json;

namespace Jobplane.Cli.Tests;

/// <summary>`jobctl keys create --expires-in`: a key that stops working after a while, shown in lists.</summary>
public sealed class KeyExpiryCommandTests(LiveControllerFixture fixture) : IClassFixture<LiveControllerFixture>
{
    private readonly LiveJobctl _jobctl = new(fixture.Host);

    [Fact]
    public async Task Keys_create_with_expires_in_gives_a_key_that_expires_then_and_list_shows_it()
    {
        var (_, key) = await _jobctl.NewTenantAsync();
        var created = await _jobctl.RunAsync(key, "keys", "create", "--name", "temp", "--expires-in", "30d", "-o", "json");
        Assert.True(created.ExitCode == 0, created.ToString());
        var json = JsonDocument.Parse(created.Stdout).RootElement;
        var lifetime = json.GetProperty("expires_at").GetDateTimeOffset() - json.GetProperty("created_at").GetDateTimeOffset();
        Assert.InRange(lifetime, TimeSpan.FromDays(30) - TimeSpan.FromMinutes(1), TimeSpan.FromDays(30) + TimeSpan.FromMinutes(1));
        var minted = json.GetProperty("api_key").GetString()!;
        Assert.True((await _jobctl.RunAsync(minted, "jobs", "list")).ExitCode == 0);

        var list = await _jobctl.RunAsync(key, "keys", "list");
        Assert.True(list.ExitCode == 0, list.ToString());
        var row = Assert.Single(list.Stdout.Split('\n'), l => l.StartsWith(json.GetProperty("id").GetString()!, StringComparison.Ordinal));
        Assert.Matches(@" \d{4}-\S+$", row);
    }

    [Theory]
    [InlineData("soon")]
    [InlineData("0s")]
    [InlineData("-1d")]
    public async Task A_bad_expires_in_is_refused_before_anything_is_sent(string value)
    {
        var (_, key) = await _jobctl.NewTenantAsync();
        var result = await _jobctl.RunAsync(key, "keys", "create", "--expires-in", value);
        Assert.NotEqual(0, result.ExitCode);
        Assert.Contains("--expires-in", result.Stderr, StringComparison.Ordinal);
        var list = await _jobctl.RunAsync(key, "keys", "list", "-o", "json");
        Assert.Single(JsonDocument.Parse(list.Stdout).RootElement.GetProperty("api_keys").EnumerateArray());
    }
}
