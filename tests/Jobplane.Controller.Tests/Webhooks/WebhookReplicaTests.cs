using System.Net;
using Jobplane.Api;
using Jobplane.Testing;

namespace Jobplane.Controller.Tests.Webhooks;

/// <summary>
/// A controller that takes requests but delivers no webhooks (WEBHOOK_DELIVERY=false): the tests
/// start and stop the delivering replicas themselves, on the same database.
/// </summary>
public sealed class NonDeliveringController : IAsyncLifetime
{
    public static Dictionary<string, string?> Settings(bool delivering) => new(WebhookFixture.Settings)
    {
        ["WEBHOOK_DELIVERY"] = delivering ? "true" : "false",
    };

    public ControllerHost Host { get; } = new(Settings(delivering: false));

    public Task InitializeAsync() => Host.InitializeAsync();

    public Task DisposeAsync() => Host.DisposeAsync();
}

/// <summary>
/// Delivery across controllers: two replicas share the outbox without sending one delivery at the
/// same time, and a replica stopped while its deliveries wait for a retry leaves them to the next.
/// In-process replicas (each its own host, dispatcher and HTTP client) on one real PostgreSQL.
/// </summary>
public sealed class WebhookReplicaTests(NonDeliveringController fixture) : IClassFixture<NonDeliveringController>
{
    private ControllerHost Api0 => fixture.Host;

    private async Task<(Guid TenantId, Guid JobId, HttpClient Client)> TenantWithEndpointAsync(WebhookReceiver receiver)
    {
        var (tenant, client) = await Api0.TenantClientAsync();
        Assert.Equal(HttpStatusCode.Created, (await client.PostAsync("/webhooks",
            Api.RawJson($$"""{"url": "{{receiver.Url}}", "events": ["execution.cancelled"]}"""))).StatusCode);
        return (tenant.TenantId, await Api.CreateJobAsync(client), client);
    }

    private static async Task CancelManyAsync(HttpClient client, Guid jobId, int count)
    {
        Assert.Equal(HttpStatusCode.Created, (await client.PostAsync($"/jobs/{jobId}/runs", Api.RawJson($$"""{"count": {{count}}}"""))).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await client.PostAsync($"/jobs/{jobId}/cancel", null)).StatusCode);
    }

    [Fact]
    public async Task Two_delivering_controllers_never_send_one_delivery_at_the_same_time()
    {
        const int n = 300;
        // Slow answers widen the window in which a second sender could pick the same delivery.
        await using var receiver = await WebhookReceiver.StartAsync(answerDelay: TimeSpan.FromMilliseconds(20));
        var random = new Random(7);
        receiver.Answer = _ => { lock (random) return random.NextDouble() < 0.3 ? 503 : 200; };
        var (_, jobId, client) = await TenantWithEndpointAsync(receiver);
        var first = new ControllerHost(Api0, NonDeliveringController.Settings(delivering: true));
        var second = new ControllerHost(Api0, NonDeliveringController.Settings(delivering: true));
        await first.InitializeAsync();
        await second.InitializeAsync();
        try
        {
            await CancelManyAsync(client, jobId, n);
            await receiver.WaitForAsync(r => r.Where(g => g.Answered == 200).Select(g => g.Id).Distinct().Count() >= n, TimeSpan.FromMinutes(2),
                $"{n} delivered events");
        }
        finally
        {
            await second.DisposeAsync();
            await first.DisposeAsync();
        }
        Assert.Equal(1, receiver.MaxInFlightPerId);
        var ok = receiver.Received.Where(g => g.Answered == 200).ToList();
        // Each event delivered once: a 200 ends its retries.
        Assert.Equal(n, ok.Count);
        Assert.Equal(n, ok.Select(g => g.Json.GetProperty("data").GetProperty("execution_id").GetGuid()).Distinct().Count());
    }

    [Fact]
    public async Task Deliveries_waiting_for_a_retry_when_their_controller_stops_are_sent_by_the_next()
    {
        const int n = 20;
        await using var receiver = await WebhookReceiver.StartAsync();
        receiver.Down = true;
        var (tenantId, jobId, client) = await TenantWithEndpointAsync(receiver);
        var before = new ControllerHost(Api0, NonDeliveringController.Settings(delivering: true));
        await before.InitializeAsync();
        try
        {
            await CancelManyAsync(client, jobId, n);
            // Every delivery tried at least once, and failed: the receiver was not there.
            await WaitForSqlAsync($"select count(*) = {n} from webhook_deliveries where tenant_id = '{tenantId}' and attempts >= 1 and state = 'pending'");
        }
        finally
        {
            await before.DisposeAsync();
        }
        Assert.Empty(receiver.Received);

        receiver.Down = false;
        var after = new ControllerHost(Api0, NonDeliveringController.Settings(delivering: true));
        await after.InitializeAsync();
        try
        {
            await receiver.WaitForAsync(r => r.Select(g => g.Id).Distinct().Count() >= n, TimeSpan.FromMinutes(1), $"all {n} events");
            await WaitForSqlAsync($"select count(*) = {n} from webhook_deliveries where tenant_id = '{tenantId}' and state = 'delivered'");
        }
        finally
        {
            await after.DisposeAsync();
        }
        Assert.Equal(n, receiver.Received.Select(g => g.Id).Distinct().Count());
    }

    private async Task WaitForSqlAsync(string sql)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromMinutes(1);
        while (true)
        {
            await using var cmd = Api0.Database.DataSource.CreateCommand(sql);
            if (await cmd.ExecuteScalarAsync() is true) return;
            if (DateTime.UtcNow > deadline) Assert.Fail($"still false after a minute: {sql}");
            await Task.Delay(50);
        }
    }
}
