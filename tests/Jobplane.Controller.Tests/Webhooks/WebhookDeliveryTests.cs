using System.Net;
using System.Net.Http.Json;
using System.Text;
using Jobplane.Api;
using Jobplane.Testing;
using Jobplane.Webhooks;

namespace Jobplane.Controller.Tests.Webhooks;

/// <summary>
/// A controller whose webhooks may reach loopback (the operator's allow-list, as tests must) and
/// plain http, retrying fast: real PostgreSQL, a real receiver on 127.0.0.1.
/// </summary>
public sealed class WebhookFixture : IAsyncLifetime
{
    public static readonly Dictionary<string, string?> Settings = new()
    {
        ["WEBHOOK_ALLOWED_RANGES"] = "127.0.0.1/32",
        ["WEBHOOK_ALLOW_HTTP"] = "true",
        ["WEBHOOK_RETRY_BASE"] = "50ms",
        ["WEBHOOK_RETRY_MAX"] = "200ms",
        ["WEBHOOK_POLL_INTERVAL"] = "20ms",
        ["WEBHOOK_TIMEOUT"] = "5s",
    };

    public ControllerHost Host { get; } = new(Settings);

    public Task InitializeAsync() => Host.InitializeAsync();

    public Task DisposeAsync() => Host.DisposeAsync();
}

/// <summary>
/// Webhooks end to end: an execution's transitions become signed deliveries at a real receiver;
/// what each answer means (retry, give up, disable); the delivery log and redelivery.
/// </summary>
public sealed class WebhookDeliveryTests(WebhookFixture fixture) : IClassFixture<WebhookFixture>
{
    private ControllerHost Host => fixture.Host;

    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);

    private async Task<(HttpClient Client, Guid TenantId, WebhookView Hook)> EndpointAsync(WebhookReceiver receiver, string events)
    {
        var (tenant, client) = await Host.TenantClientAsync();
        var hook = await Api.ReadAsync(await client.PostAsync("/webhooks", Api.RawJson($$"""{"url": "{{receiver.Url}}", "events": [{{events}}]}""")),
            Api.Json.WebhookView, HttpStatusCode.Created);
        return (client, tenant.TenantId, hook);
    }

    private static void AssertSigned(ReceivedWebhook got, string secret)
    {
        var verified = WebhookSignature.Verify(got.Id, got.Timestamp, got.Signature, Encoding.UTF8.GetBytes(got.Body),
            [WebhookSecret.Parse(secret)], DateTimeOffset.UtcNow);
        Assert.True(verified.IsValid, verified.Problem);
    }

    [Fact]
    public async Task A_finished_execution_reaches_the_receiver_signed_with_what_happened()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        var (client, tenantId, hook) = await EndpointAsync(receiver, "\"execution.started\", \"execution.succeeded\"");
        Assert.StartsWith("whsec_", hook.Secret);
        using var worker = Host.WorkerClient();
        var jobId = await Api.CreateJobAsync(client, name: "nightly-export");
        var run = await Api.RunAsync(client, jobId);
        var claim = Assert.Single(await Api.DequeueAsync(worker, tenantId));
        await Api.ResultAsync(worker, claim.ExecutionId, claim.LeaseToken, 0, """ "result": {"rows": 42} """);

        await receiver.WaitForAsync(r => r.Count >= 2, Wait, "the started and succeeded events");
        var got = receiver.Received.ToList();
        Assert.Equal(["execution.started", "execution.succeeded"], got.Select(g => g.Type).Order());
        foreach (var g in got) AssertSigned(g, hook.Secret!);
        var done = got.Single(g => g.Type == "execution.succeeded").Json.GetProperty("data");
        Assert.Equal(run.ExecutionId, done.GetProperty("execution_id").GetGuid());
        Assert.Equal("nightly-export", done.GetProperty("job_name").GetString());
        Assert.Equal(ExecutionStatus.Succeeded, done.GetProperty("status").GetString());
        Assert.Equal(0, done.GetProperty("exit_code").GetInt32());
        Assert.Equal(42, done.GetProperty("result").GetProperty("rows").GetInt32());
        var started = got.Single(g => g.Type == "execution.started").Json.GetProperty("data");
        Assert.Equal(ExecutionStatus.Running, started.GetProperty("status").GetString());
        Assert.Equal(JsonValueKindNull, started.GetProperty("exit_code").ValueKind);

        // The delivery log shows both, delivered on the first attempt (recorded just after the answers).
        var log = await WaitForDeliveriesAsync(client, hook.Id, 2, d => d.State == "delivered");
        Assert.All(log, d => Assert.Equal(("delivered", 1, 200), (d.State, d.Attempts, d.LastStatus)));
        Assert.Equal(got.Select(g => Guid.Parse(g.Id)).Order(), log.Select(d => d.Id).Order());
    }

    private const System.Text.Json.JsonValueKind JsonValueKindNull = System.Text.Json.JsonValueKind.Null;

    [Fact]
    public async Task Only_the_events_and_jobs_an_endpoint_asked_for_are_sent()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        var (tenant, client) = await Host.TenantClientAsync();
        var watched = await Api.CreateJobAsync(client, name: "watched", maxAttempts: 1);
        var other = await Api.CreateJobAsync(client, name: "other", maxAttempts: 1);
        await Api.ReadAsync(await client.PostAsync("/webhooks", Api.RawJson($$"""
            {"url": "{{receiver.Url}}", "events": ["execution.failed"], "job_names": ["watched"]}
            """)), Api.Json.WebhookView, HttpStatusCode.Created);
        using var worker = Host.WorkerClient();
        foreach (var job in new[] { other, watched })
        {
            await Api.RunAsync(client, job);
            var claim = Assert.Single(await Api.DequeueAsync(worker, tenant.TenantId));
            await Api.ResultAsync(worker, claim.ExecutionId, claim.LeaseToken, 3);
        }

        await receiver.WaitForAsync(r => r.Count >= 1, Wait, "the failure of the watched job");
        // The other job's failure, and the started events, were never written to the outbox.
        await using var count = Host.Database.DataSource.CreateCommand($"select count(*) from webhook_deliveries where tenant_id = '{tenant.TenantId}'");
        Assert.Equal(1L, await count.ExecuteScalarAsync());
        var got = Assert.Single(receiver.Received);
        Assert.Equal("execution.failed", got.Type);
        Assert.Equal("watched", got.Json.GetProperty("data").GetProperty("job_name").GetString());
    }

    [Fact]
    public async Task A_schedule_firing_is_an_event_with_the_schedule_and_its_execution()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        var (client, _, hook) = await EndpointAsync(receiver, "\"schedule.fired\", \"schedule.skipped\"");
        var jobId = await Api.CreateJobAsync(client, name: "yearly-report");
        // Due on the first of January only: the trigger is the one fire.
        var schedule = await Api.ReadAsync(await client.PostAsync("/schedules",
            Api.RawJson($$"""{"name": "yearly", "job_id": "{{jobId}}", "cron": "0 0 1 1 *"}""")), Api.Json.ScheduleView, HttpStatusCode.Created);
        var fired = await Api.ReadAsync(await client.PostAsync($"/schedules/{schedule.Id}/trigger", null), Api.Json.ScheduleTriggerResponse,
            HttpStatusCode.Created);

        await receiver.WaitForAsync(r => r.Count >= 1, Wait, "the schedule.fired event");
        var got = Assert.Single(receiver.Received);
        AssertSigned(got, hook.Secret!);
        Assert.Equal("schedule.fired", got.Type);
        var data = got.Json.GetProperty("data");
        Assert.Equal(schedule.Id, data.GetProperty("schedule_id").GetGuid());
        Assert.Equal("yearly", data.GetProperty("schedule_name").GetString());
        Assert.Equal("yearly-report", data.GetProperty("job_name").GetString());
        Assert.Equal("manual", data.GetProperty("trigger").GetString());
        Assert.Equal(fired.ExecutionId, data.GetProperty("execution_id").GetGuid());
    }

    [Fact]
    public async Task Server_errors_are_retried_with_the_same_id_until_delivered()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        var answers = 0;
        receiver.Answer = _ => Interlocked.Increment(ref answers) <= 2 ? 503 : 200;
        var (client, _, hook) = await EndpointAsync(receiver, "\"execution.cancelled\"");
        var jobId = await Api.CreateJobAsync(client);
        var run = await Api.RunAsync(client, jobId);
        await Api.CancelAsync(client, run.ExecutionId);

        await receiver.WaitForAsync(r => r.Any(g => g.Answered == 200), Wait, "the cancel event, answered 200");
        var got = receiver.Received.ToList();
        Assert.Equal([503, 503, 200], got.Select(g => g.Answered));
        Assert.Single(got.Select(g => g.Id).Distinct());
        Assert.Single(got.Select(g => g.Body).Distinct());
        // The dispatcher records the attempt after the receiver answered: wait for that, not only for the answer.
        var delivery = await WaitForDeliveryAsync(client, hook.Id, d => d.State == "delivered");
        var detail = await Api.ReadAsync(await client.GetAsync($"/webhooks/{hook.Id}/deliveries/{delivery.Id}"), Api.Json.WebhookDeliveryView);
        Assert.Equal("delivered", detail.State);
        Assert.Equal([503, 503, 200], detail.AttemptLog!.Select(a => a.StatusCode ?? 0));
        Assert.Equal("answer 503", detail.AttemptLog![0].ResponseHead);
    }

    [Theory]
    [InlineData(400)]
    [InlineData(404)]
    [InlineData(410)]
    public async Task A_client_error_is_not_retried_and_410_disables_the_endpoint(int status)
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        receiver.Answer = _ => status;
        var (client, tenantId, hook) = await EndpointAsync(receiver, "\"execution.cancelled\"");
        var jobId = await Api.CreateJobAsync(client);
        var run = await Api.RunAsync(client, jobId);
        await Api.CancelAsync(client, run.ExecutionId);

        var delivery = await WaitForDeliveryAsync(client, hook.Id, d => d.State != "pending");
        Assert.Equal(("failed", 1, status), (delivery.State, delivery.Attempts, delivery.LastStatus));
        // Time for a retry the backoff (at most 200 ms here) would have sent: there is none.
        await Task.Delay(1000);
        Assert.Single(receiver.Received);
        var endpoint = await Api.ReadAsync(await client.GetAsync($"/webhooks/{hook.Id}"), Api.Json.WebhookView);
        if (status == 410)
        {
            Assert.False(endpoint.Enabled);
            Assert.Contains("410", endpoint.DisabledReason);
            await using var audit = Host.Database.DataSource.CreateCommand(
                $"select count(*) from audit_log where tenant_id = '{tenantId}' and action = 'webhook.disable'");
            Assert.Equal(1L, await audit.ExecuteScalarAsync());
        }
        else Assert.True(endpoint.Enabled);
    }

    [Fact]
    public async Task A_redelivery_sends_the_same_id_and_body_again()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        var (client, _, hook) = await EndpointAsync(receiver, "\"execution.cancelled\"");
        var run = await Api.RunAsync(client, await Api.CreateJobAsync(client));
        await Api.CancelAsync(client, run.ExecutionId);
        var first = await WaitForDeliveryAsync(client, hook.Id, d => d.State == "delivered");

        Assert.Equal(HttpStatusCode.Accepted, (await client.PostAsync($"/webhooks/{hook.Id}/deliveries/{first.Id}/redeliver", null)).StatusCode);
        await receiver.WaitForAsync(r => r.Count >= 2, Wait, "the redelivery");
        var got = receiver.Received.ToList();
        Assert.Equal(got[0].Id, got[1].Id);
        Assert.Equal(got[0].Body, got[1].Body);
        // Still made when the event happened: the log keeps its order, only the retry period starts again.
        var again = await WaitForDeliveryAsync(client, hook.Id, d => d.State == "delivered" && d.Attempts == 2);
        Assert.Equal(first.CreatedAt, again.CreatedAt);
        await Api.AssertErrorAsync(await client.PostAsync($"/webhooks/{hook.Id}/deliveries/{Guid.NewGuid()}/redeliver", null), HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task A_test_event_is_signed_and_after_a_rotation_both_secrets_verify()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        var (client, _, hook) = await EndpointAsync(receiver, "\"execution.succeeded\"");
        var rotated = await Api.ReadAsync(await client.PostAsync($"/webhooks/{hook.Id}/rotate-secret", Api.RawJson("""{"overlap_seconds": 3600}""")),
            Api.Json.WebhookView);
        Assert.NotEqual(hook.Secret, rotated.Secret);
        Assert.NotNull(rotated.PreviousSecretExpiresAt);

        var test = await Api.ReadAsync(await client.PostAsync($"/webhooks/{hook.Id}/test", null), Api.Json.WebhookTestResponse, HttpStatusCode.Accepted);
        await receiver.WaitForAsync(r => r.Count >= 1, Wait, "the test event");
        var got = Assert.Single(receiver.Received);
        Assert.Equal(test.DeliveryId.ToString(), got.Id);
        Assert.Equal("webhook.test", got.Type);
        AssertSigned(got, hook.Secret!);
        AssertSigned(got, rotated.Secret!);
        Assert.Equal(2, got.Signature.Split(' ').Length);
        // Never shown again.
        Assert.Null((await Api.ReadAsync(await client.GetAsync($"/webhooks/{hook.Id}"), Api.Json.WebhookView)).Secret);
    }

    private static async Task<WebhookDeliveryView> WaitForDeliveryAsync(HttpClient client, Guid hookId, Func<WebhookDeliveryView, bool> done) =>
        (await WaitForDeliveriesAsync(client, hookId, 1, done))[0];

    /// <summary>Waits until the endpoint's log holds exactly <paramref name="count"/> deliveries, each of them <paramref name="done"/>.</summary>
    private static async Task<IReadOnlyList<WebhookDeliveryView>> WaitForDeliveriesAsync(HttpClient client, Guid hookId, int count,
        Func<WebhookDeliveryView, bool> done)
    {
        var deadline = DateTime.UtcNow + Wait;
        while (true)
        {
            var list = await Api.ReadAsync(await client.GetAsync($"/webhooks/{hookId}/deliveries"), Api.Json.WebhookDeliveryList);
            if (list.Deliveries.Count == count && list.Deliveries.All(done)) return list.Deliveries;
            if (DateTime.UtcNow > deadline) Assert.Fail($"the deliveries did not reach the expected state: {string.Join(", ", list.Deliveries.Select(d => d.State))}");
            await Task.Delay(50);
        }
    }
}
