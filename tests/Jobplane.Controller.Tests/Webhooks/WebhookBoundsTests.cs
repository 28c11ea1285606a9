using System.Net;
using Jobplane.Api;
using Jobplane.Store.Webhooks;
using Jobplane.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace Jobplane.Controller.Tests.Webhooks;

/// <summary>
/// What one tenant can make the webhook outbox hold and send: test events are bounded per
/// endpoint, deliveries of an endpoint left disabled end, and one endpoint gets a share of the
/// senders, not all of them (<see cref="WebhookShareTests"/> with a delivering controller). Real PostgreSQL.
/// </summary>
public sealed class WebhookBoundsTests(NonDeliveringController fixture) : IClassFixture<NonDeliveringController>
{
    private ControllerHost Host => fixture.Host;
    private WebhookDeliveryStore Store => Host.Services.GetRequiredService<WebhookDeliveryStore>();

    private async Task<(Guid TenantId, HttpClient Client, Guid HookId, Guid JobId)> EndpointAsync(Uri url)
    {
        var (tenant, client) = await Host.TenantClientAsync();
        var hook = await Api.ReadAsync(await client.PostAsync("/webhooks", Api.RawJson($$"""{"url": "{{url}}", "events": ["execution.cancelled"]}""")),
            Api.Json.WebhookView, HttpStatusCode.Created);
        return (tenant.TenantId, client, hook.Id, await Api.CreateJobAsync(client));
    }

    /// <summary>Queues runs of the job and cancels them: one execution.cancelled event each.</summary>
    internal static async Task CancelRunsAsync(HttpClient client, Guid jobId, int count)
    {
        Assert.Equal(HttpStatusCode.Created, (await client.PostAsync($"/jobs/{jobId}/runs", Api.RawJson($$"""{"count": {{count}}}"""))).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await client.PostAsync($"/jobs/{jobId}/cancel", null)).StatusCode);
    }

    private async Task<long> CountAsync(string sql)
    {
        await using var cmd = Host.Database.DataSource.CreateCommand(sql);
        return (long)(await cmd.ExecuteScalarAsync())!;
    }

    [Fact]
    public async Task Test_events_waiting_for_one_endpoint_are_bounded_even_when_asked_for_at_once()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        var (_, client, hookId, _) = await EndpointAsync(receiver.Url);

        var answers = await Task.WhenAll(Enumerable.Range(0, 30).Select(_ => client.PostAsync($"/webhooks/{hookId}/test", null)));

        Assert.Equal(WebhookDeliveryStore.MaxPendingTests, answers.Count(a => a.StatusCode == HttpStatusCode.Accepted));
        var refused = answers.Where(a => a.StatusCode != HttpStatusCode.Accepted).ToList();
        Assert.Equal(30 - WebhookDeliveryStore.MaxPendingTests, refused.Count);
        var error = await Api.AssertErrorAsync(refused[0], HttpStatusCode.Conflict);
        Assert.Contains("test deliveries are already waiting", error.Error);
        Assert.Equal(WebhookDeliveryStore.MaxPendingTests,
            await CountAsync($"select count(*) from webhook_deliveries where endpoint_id = '{hookId}' and event_type = 'webhook.test'"));
        // The bound is the endpoint's: another endpoint of the same tenant takes its own.
        var other = await Api.ReadAsync(await client.PostAsync("/webhooks", Api.RawJson($$"""{"url": "{{receiver.Url}}", "events": ["execution.failed"]}""")),
            Api.Json.WebhookView, HttpStatusCode.Created);
        Assert.Equal(HttpStatusCode.Accepted, (await client.PostAsync($"/webhooks/{other.Id}/test", null)).StatusCode);
    }

    [Fact]
    public async Task Deliveries_of_an_endpoint_disabled_for_a_whole_retry_period_fail_and_those_of_an_enabled_one_wait()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        var (_, disabledClient, disabled, disabledJob) = await EndpointAsync(receiver.Url);
        var (_, enabledClient, enabled, enabledJob) = await EndpointAsync(receiver.Url);
        await CancelRunsAsync(disabledClient, disabledJob, 3);
        await CancelRunsAsync(enabledClient, enabledJob, 2);
        Assert.Equal(HttpStatusCode.OK, (await disabledClient.PatchAsync($"/webhooks/{disabled}", Api.RawJson("""{"enabled": false}"""))).StatusCode);

        // Within the retry period they wait: enabled again, the endpoint would get them.
        Assert.Equal(0, await Store.FailStrandedAsync(TimeSpan.FromHours(1), 1000, CancellationToken.None));
        await Task.Delay(50);
        // Past it (a period shorter than their age), nothing would ever send them: they fail, and age out as finished ones do.
        Assert.Equal(3, await Store.FailStrandedAsync(TimeSpan.FromMilliseconds(10), 1000, CancellationToken.None));

        var list = await Api.ReadAsync(await disabledClient.GetAsync($"/webhooks/{disabled}/deliveries"), Api.Json.WebhookDeliveryList);
        Assert.Equal(3, list.Deliveries.Count);
        Assert.All(list.Deliveries, d =>
        {
            Assert.Equal("failed", d.State);
            Assert.StartsWith("not sent: the endpoint was disabled", d.LastError);
        });
        Assert.Equal(2, await CountAsync($"select count(*) from webhook_deliveries where endpoint_id = '{enabled}' and state = 'pending'"));
    }

    [Fact]
    public async Task A_claim_keeps_each_endpoint_within_its_share_counting_the_sends_already_in_flight()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        var (_, aClient, a, aJob) = await EndpointAsync(receiver.Url);
        var (_, bClient, b, bJob) = await EndpointAsync(receiver.Url);
        await CancelRunsAsync(aClient, aJob, 6);
        await CancelRunsAsync(bClient, bJob, 6);

        // a has its share in flight already, b one send of it.
        var claimed = await Store.ClaimAsync(100, TimeSpan.FromMinutes(5), perEndpoint: 2, new Dictionary<Guid, int> { [a] = 2, [b] = 1 },
            CancellationToken.None);
        Assert.DoesNotContain(claimed, c => c.EndpointId == a);
        Assert.Single(claimed, c => c.EndpointId == b);
        claimed = await Store.ClaimAsync(100, TimeSpan.FromMinutes(5), perEndpoint: 2, new Dictionary<Guid, int>(), CancellationToken.None);
        Assert.Equal(2, claimed.Count(c => c.EndpointId == a));
        Assert.Equal(2, claimed.Count(c => c.EndpointId == b));
    }
}

/// <summary>
/// The per-endpoint share with a delivering controller. A class (and so a database) of its own:
/// the sender would otherwise also be sending what the other tests left in the outbox.
/// </summary>
public sealed class WebhookShareTests(NonDeliveringController fixture) : IClassFixture<NonDeliveringController>
{
    private ControllerHost Host => fixture.Host;

    private async Task<(HttpClient Client, Guid JobId)> EndpointAsync(Uri url)
    {
        var (_, client) = await Host.TenantClientAsync();
        Assert.Equal(HttpStatusCode.Created, (await client.PostAsync("/webhooks", Api.RawJson($$"""{"url": "{{url}}", "events": ["execution.cancelled"]}"""))).StatusCode);
        return (client, await Api.CreateJobAsync(client));
    }


    [Fact]
    public async Task A_tenants_slow_receiver_does_not_hold_back_another_tenants_deliveries()
    {
        // The slow tenant's events are older, so in plain first-come order they would take every slot.
        await using var slow = await WebhookReceiver.StartAsync(answerDelay: TimeSpan.FromSeconds(1.5));
        await using var fast = await WebhookReceiver.StartAsync();
        var (slowClient, slowJob) = await EndpointAsync(slow.Url);
        var (fastClient, fastJob) = await EndpointAsync(fast.Url);
        await WebhookBoundsTests.CancelRunsAsync(slowClient, slowJob, 40);
        await WebhookBoundsTests.CancelRunsAsync(fastClient, fastJob, 4);

        var sender = new ControllerHost(Host, new Dictionary<string, string?>(NonDeliveringController.Settings(delivering: true))
        {
            ["WEBHOOK_CONCURRENCY"] = "4",
            ["WEBHOOK_CONCURRENCY_PER_ENDPOINT"] = "2",
        });
        await sender.InitializeAsync();
        try
        {
            await fast.WaitForAsync(r => r.Count >= 4, TimeSpan.FromSeconds(60), "the fast tenant's 4 events");
            // Two slow sends at a time take 1.5 s each: with all four slots it would have needed
            // 40 / 4 * 1.5 s = 15 s before the first fast event; with its share, at most a handful went first.
            Assert.True(slow.Received.Count <= 10, $"the slow receiver got {slow.Received.Count} of its 40 events before the fast one got its 4");
        }
        finally
        {
            await sender.DisposeAsync();
        }
    }
}

/// <summary>
/// How fast one endpoint's backlog drains when its share is the limit. A class (and so a database)
/// of its own, for the same reason as <see cref="WebhookShareTests"/>.
/// </summary>
public sealed class WebhookShareWakeUpTests(NonDeliveringController fixture) : IClassFixture<NonDeliveringController>
{
    [Fact]
    public async Task An_endpoint_at_its_share_gets_its_next_delivery_when_a_send_ends_not_a_poll_later()
    {
        await using var receiver = await WebhookReceiver.StartAsync(answerDelay: TimeSpan.FromMilliseconds(100));
        var (_, client) = await fixture.Host.TenantClientAsync();
        Assert.Equal(HttpStatusCode.Created, (await client.PostAsync("/webhooks",
            Api.RawJson($$"""{"url": "{{receiver.Url}}", "events": ["execution.cancelled"]}"""))).StatusCode);
        await WebhookBoundsTests.CancelRunsAsync(client, await Api.CreateJobAsync(client), 12);

        // The longest poll there is: a sender that waited for its next poll once its one endpoint was
        // at its share would deliver 2 events a minute, and this wait would fail after 5 of them.
        var sender = new ControllerHost(fixture.Host, new Dictionary<string, string?>(NonDeliveringController.Settings(delivering: true))
        {
            ["WEBHOOK_CONCURRENCY"] = "8",
            ["WEBHOOK_CONCURRENCY_PER_ENDPOINT"] = "2",
            ["WEBHOOK_POLL_INTERVAL"] = "1m",
        });
        await sender.InitializeAsync();
        try
        {
            await receiver.WaitForAsync(r => r.Select(w => w.Id).Distinct().Count() == 12, TimeSpan.FromSeconds(45), "all 12 events");
            // Claiming again as soon as one send ended never put more than the share in flight.
            Assert.InRange(receiver.MaxInFlight, 1, 2);
        }
        finally
        {
            await sender.DisposeAsync();
        }
    }
}
