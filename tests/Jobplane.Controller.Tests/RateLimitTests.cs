using System.Diagnostics;
using System.Net;
using Jobplane.Api;
using Jobplane.Testing;
using Xunit.Abstractions;

namespace Jobplane.Controller.Tests;

/// <summary>Two controller replicas on one database, as behind a load balancer.</summary>
public sealed class TwoReplicas : IAsyncLifetime
{
    public ControllerHost First { get; } = new();
    public ControllerHost Second { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        await First.InitializeAsync();
        Second = new ControllerHost(First);
        await Second.InitializeAsync();
    }

    public async Task DisposeAsync()
    {
        await Second.DisposeAsync();
        await First.DisposeAsync();
    }
}

/// <summary>
/// Per-tenant request rate limits hold across replicas: the bucket is shared in PostgreSQL, so
/// two controllers together accept no more than one would.
/// </summary>
public sealed class RateLimitTests(TwoReplicas replicas, ITestOutputHelper output) : IClassFixture<TwoReplicas>
{
    private async Task<CreateTenantResponse> LimitedTenantAsync(double rate, int burst)
    {
        var tenant = await replicas.First.CreateTenantAsync();
        using var admin = replicas.First.AdminClient();
        var patch = await admin.PatchAsync($"/tenants/{tenant.TenantId}", Api.RawJson($$"""{"rate_limit": {{rate}}, "rate_limit_burst": {{burst}}}"""));
        Assert.Equal(HttpStatusCode.NoContent, patch.StatusCode);
        return tenant;
    }

    [Fact]
    public async Task Two_replicas_hammered_accept_no_more_than_the_tenants_limit()
    {
        // A fixed number of requests rather than a fixed time, and a rate far below what even a loaded
        // machine sends: the clients always push past the limit, however slow this run is.
        const int rate = 2, burst = 10;
        const int requestsPerClient = 50;
        var tenant = await LimitedTenantAsync(rate: rate, burst: burst);
        var takesBefore = await BucketTakesAsync();
        var clients = Enumerable.Range(0, 8)
            .Select(i => (i % 2 == 0 ? replicas.First : replicas.Second).Client(tenant.ApiKey)).ToList();
        var accepted = 0;
        var refused = 0;
        var clock = Stopwatch.StartNew();
        await Task.WhenAll(clients.Select(async client =>
        {
            for (var i = 0; i < requestsPerClient; i++)
            {
                using var response = await client.GetAsync("/jobs");
                if (response.StatusCode == HttpStatusCode.OK) Interlocked.Increment(ref accepted);
                else if (response.StatusCode == HttpStatusCode.TooManyRequests) Interlocked.Increment(ref refused);
                else Assert.Fail($"unexpected {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
            }
        }));
        var elapsed = clock.Elapsed.TotalSeconds;
        var takes = await BucketTakesAsync() - takesBefore;
        output.WriteLine($"{elapsed:F1} s, two replicas: {accepted} accepted, {refused} refused (429), " +
            $"{takes} shared-bucket takes for {accepted + refused} requests");

        // Never more than burst + rate × time across both replicas (plus one token each may be taking).
        Assert.InRange(accepted, burst, burst + rate * elapsed + 2);
        Assert.Equal(8 * requestsPerClient, accepted + refused);
        Assert.True(refused > accepted, "the clients did not push past the limit: the test proves nothing");
        // Refusals are decided locally, without a database round trip each: trips to the shared bucket
        // follow the tokens it grants (a take that gets nothing blocks its replica until a token is due,
        // and the next take then gets one), not the number of requests.
        Assert.True(takes <= 2.5 * accepted + 40, $"{takes} bucket takes for {accepted} accepted and {refused} refused requests");
        foreach (var c in clients) c.Dispose();
    }

    [Fact]
    public async Task A_refusal_is_429_with_retry_after_and_the_ratelimit_headers()
    {
        var tenant = await LimitedTenantAsync(rate: 1, burst: 2);
        using var client = replicas.Second.Client(tenant.ApiKey);
        var first = await client.GetAsync("/jobs");
        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        Assert.Equal("2", first.Headers.GetValues("RateLimit-Limit").Single());
        Assert.Equal("\"tenant\";q=2;w=2", first.Headers.GetValues("RateLimit-Policy").Single());
        Assert.True(first.Headers.Contains("RateLimit"));

        HttpResponseMessage? limited = null;
        for (var i = 0; i < 5 && limited is null; i++)
        {
            var r = await client.GetAsync("/jobs");
            if (r.StatusCode == HttpStatusCode.TooManyRequests) limited = r;
        }
        Assert.NotNull(limited);
        await Api.AssertErrorAsync(limited, HttpStatusCode.TooManyRequests, ErrorCodes.RateLimited);
        Assert.InRange(int.Parse(limited.Headers.GetValues("Retry-After").Single()), 1, 2);
        Assert.Equal("0", limited.Headers.GetValues("RateLimit-Remaining").Single());
    }

    [Fact]
    public async Task Tenants_without_a_limit_and_other_tenants_are_not_affected()
    {
        var limited = await LimitedTenantAsync(rate: 1, burst: 1);
        var free = await replicas.First.CreateTenantAsync();
        using var limitedClient = replicas.First.Client(limited.ApiKey);
        using var freeClient = replicas.First.Client(free.ApiKey);
        await limitedClient.GetAsync("/jobs");
        Assert.Equal(HttpStatusCode.TooManyRequests, (await limitedClient.GetAsync("/jobs")).StatusCode);
        for (var i = 0; i < 50; i++)
        {
            var r = await freeClient.GetAsync("/jobs");
            Assert.Equal(HttpStatusCode.OK, r.StatusCode);
            Assert.False(r.Headers.Contains("RateLimit-Limit"));
        }

        // Removing the limit (rate_limit 0) lifts it on every replica.
        using var admin = replicas.First.AdminClient();
        Assert.Equal(HttpStatusCode.NoContent, (await admin.PatchAsync($"/tenants/{limited.TenantId}", Api.RawJson("""{"rate_limit": 0}"""))).StatusCode);
        using var viaSecond = replicas.Second.Client(limited.ApiKey);
        for (var i = 0; i < 10; i++) Assert.Equal(HttpStatusCode.OK, (await viaSecond.GetAsync("/jobs")).StatusCode);
    }

    private async Task<long> BucketTakesAsync() =>
        await replicas.First.Database.ScalarAsync<long>(
            "select coalesce(sum(n_tup_upd + n_tup_ins), 0)::bigint from pg_stat_user_tables where relname = 'rate_buckets'");
}
