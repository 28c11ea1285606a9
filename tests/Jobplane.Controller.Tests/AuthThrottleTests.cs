using System.Net;
using System.Text.Json;
using Jobplane.Api;
using Jobplane.Controller.Auth;
using Jobplane.Testing;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace Jobplane.Controller.Tests;

/// <summary>A controller allowing five failed authentications a minute per address, behind proxies in 10.0.0.0/8.</summary>
public sealed class ThrottledAuthFixture : IAsyncLifetime
{
    public ControllerHost Host { get; } = new(new Dictionary<string, string?>
    {
        ["AUTH_FAILURES_PER_MINUTE"] = "5",
        ["TRUSTED_PROXIES"] = "10.0.0.0/8",
    });

    public Task InitializeAsync() => Host.InitializeAsync();

    public Task DisposeAsync() => Host.DisposeAsync();
}

/// <summary>AUTH_FAILURES_PER_MINUTE: an address that keeps guessing keys is refused before any lookup.</summary>
public sealed class AuthThrottleTests(ThrottledAuthFixture fixture) : IClassFixture<ThrottledAuthFixture>
{
    private readonly ControllerHost _host = fixture.Host;

    private sealed record Answer(int Status, string? RetryAfter, string Body);

    /// <summary>GET /jobs from a given socket address (what Kestrel would see), with a key and optional X-Forwarded-For.</summary>
    private async Task<Answer> GetJobsAsync(string from, string? key, string? forwardedFor = null)
    {
        var server = (TestServer)_host.Services.GetRequiredService<IServer>();
        var context = await server.SendAsync(c =>
        {
            c.Request.Method = "GET";
            c.Request.Path = "/jobs";
            c.Connection.RemoteIpAddress = IPAddress.Parse(from);
            if (key is not null) c.Request.Headers.Authorization = $"Bearer {key}";
            if (forwardedFor is not null) c.Request.Headers["X-Forwarded-For"] = forwardedFor;
        });
        var body = await new StreamReader(context.Response.Body).ReadToEndAsync();
        return new Answer(context.Response.StatusCode, context.Response.Headers.RetryAfter.ToString(), body);
    }

    private static string Guess() => $"jp_{Guid.NewGuid():N}_{Guid.NewGuid():N}";

    [Fact]
    public async Task An_address_that_keeps_guessing_gets_429_with_Retry_After_before_any_lookup()
    {
        var (_, _) = await _host.TenantClientAsync();
        const string attacker = "198.51.100.7";
        for (var i = 0; i < 5; i++)
            Assert.Equal(401, (await GetJobsAsync(attacker, Guess())).Status);

        // Nobody can read the keys table now: a request that looked a key up would wait for this
        // lock, so answers arriving at all show that the refusals cost no lookup.
        await using var conn = await _host.Database.DataSource.OpenConnectionAsync();
        await using var tx = await conn.BeginTransactionAsync();
        await using (var lockKeys = new NpgsqlCommand("lock table api_keys in access exclusive mode", conn, tx))
            await lockKeys.ExecuteNonQueryAsync();
        for (var i = 0; i < 20; i++)
        {
            var refused = await GetJobsAsync(attacker, Guess()).WaitAsync(TimeSpan.FromSeconds(30)); // a hang guard, not a timing assertion
            Assert.Equal(429, refused.Status);
            Assert.True(int.Parse(refused.RetryAfter!, System.Globalization.CultureInfo.InvariantCulture) >= 1, refused.RetryAfter);
            Assert.Equal(ErrorCodes.TooManyAuthFailures, JsonSerializer.Deserialize(refused.Body, Api.Json.ApiError)!.Code);
        }
        await tx.RollbackAsync();
    }

    [Fact]
    public async Task Other_addresses_and_keys_in_use_are_not_slowed()
    {
        var (tenant, _) = await _host.TenantClientAsync();
        const string office = "203.0.113.20";
        // A colleague at the same address used the real key a moment ago.
        Assert.Equal(200, (await GetJobsAsync(office, tenant.ApiKey)).Status);
        for (var i = 0; i < 5; i++) Assert.Equal(401, (await GetJobsAsync(office, Guess())).Status);
        Assert.Equal(429, (await GetJobsAsync(office, Guess())).Status);

        Assert.Equal(200, (await GetJobsAsync(office, tenant.ApiKey)).Status);    // verified moments ago: no guess
        Assert.Equal(200, (await GetJobsAsync("203.0.113.21", tenant.ApiKey)).Status); // another address
        Assert.Equal(401, (await GetJobsAsync("203.0.113.22", Guess())).Status);
        // Workers and the administrator behind the same address still get in with their secrets.
        var server = (TestServer)_host.Services.GetRequiredService<IServer>();
        var dequeue = await server.SendAsync(c =>
        {
            c.Request.Method = "POST";
            c.Request.Path = "/internal/executions/dequeue";
            c.Connection.RemoteIpAddress = IPAddress.Parse(office);
            c.Request.Headers.Authorization = $"Bearer {ControllerHost.WorkerToken}";
            c.Request.ContentType = "application/json";
            c.Request.Body = new MemoryStream("""{"limit": 1, "worker_id": "behind-nat"}"""u8.ToArray());
        });
        Assert.Equal(200, dequeue.Response.StatusCode);
        // Successes never spend the budget.
        for (var i = 0; i < 20; i++) Assert.Equal(200, (await GetJobsAsync("203.0.113.23", tenant.ApiKey)).Status);
        Assert.Equal(401, (await GetJobsAsync("203.0.113.23", Guess())).Status);
    }

    [Fact]
    public async Task X_Forwarded_For_counts_only_from_a_trusted_proxy()
    {
        await _host.TenantClientAsync();
        // Behind the trusted proxy, each client has its own budget.
        for (var i = 0; i < 5; i++) Assert.Equal(401, (await GetJobsAsync("10.1.2.3", Guess(), forwardedFor: "192.0.2.50")).Status);
        Assert.Equal(429, (await GetJobsAsync("10.1.2.3", Guess(), forwardedFor: "192.0.2.50")).Status);
        Assert.Equal(401, (await GetJobsAsync("10.1.2.3", Guess(), forwardedFor: "192.0.2.51")).Status);

        // An untrusted sender cannot escape its budget by writing the header itself.
        for (var i = 0; i < 5; i++) Assert.Equal(401, (await GetJobsAsync("192.0.2.99", Guess(), forwardedFor: $"192.0.2.{100 + i}")).Status);
        Assert.Equal(429, (await GetJobsAsync("192.0.2.99", Guess(), forwardedFor: "192.0.2.200")).Status);
    }

    [Fact]
    public async Task An_IPv6_host_cannot_escape_by_changing_addresses_within_its_64()
    {
        await _host.TenantClientAsync();
        for (var i = 0; i < 5; i++) Assert.Equal(401, (await GetJobsAsync($"2001:db8:7:1::{i + 1:x}", Guess())).Status);
        Assert.Equal(429, (await GetJobsAsync("2001:db8:7:1::ffff", Guess())).Status);
        Assert.Equal(401, (await GetJobsAsync("2001:db8:7:2::1", Guess())).Status);
    }

    [Fact]
    public void The_table_of_addresses_is_bounded()
    {
        var throttle = new AuthFailureThrottle(new ControllerOptions { ConnectionString = "" }, TimeProvider.System);
        for (var i = 0; i < AuthFailureThrottle.MaxAddresses + 1000; i++)
            throttle.Failed(new IPAddress(BitConverter.GetBytes(0x0A000000 + i)));
        Assert.True(throttle.Tracked <= AuthFailureThrottle.MaxAddresses, $"{throttle.Tracked} addresses tracked");
    }

    [Fact]
    public void Bad_proxy_and_budget_settings_name_themselves()
    {
        var read = new SettingReader(k => k switch { "TRUSTED_PROXIES" => "10.0.0.0/8,not-an-ip", "AUTH_FAILURES_PER_MINUTE" => "-1", _ => null });
        TenantLimitOptions.Read(read);
        Assert.Contains(read.Errors, e => e.StartsWith("TRUSTED_PROXIES", StringComparison.Ordinal) && e.Contains("not-an-ip", StringComparison.Ordinal));
        Assert.Contains(read.Errors, e => e.StartsWith("AUTH_FAILURES_PER_MINUTE", StringComparison.Ordinal));
    }
}
