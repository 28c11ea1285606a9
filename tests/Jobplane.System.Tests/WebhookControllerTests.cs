using System.Globalization;
using System.Net.Http.Headers;
using Jobplane.Testing;

namespace Jobplane.SystemTests;

/// <summary>
/// Webhook delivery across controller processes: the built controller binary, started twice on one
/// real PostgreSQL, delivering to a real HTTP receiver on loopback. A controller killed with SIGKILL
/// while its deliveries wait for a retry loses none of them, and two controllers sharing the outbox
/// never send one delivery at the same time.
/// </summary>
public sealed class WebhookControllerTests : IAsyncLifetime
{
    private readonly Platform _platform = new();

    public async Task InitializeAsync()
    {
        await _platform.InitializeAsync();
        // The receiver is on loopback over plain http: allowed here, as an operator allows its own network.
        _platform.ControllerEnv["WEBHOOK_ALLOW_HTTP"] = "true";
        _platform.ControllerEnv["WEBHOOK_ALLOWED_RANGES"] = "127.0.0.1/32";
        _platform.ControllerEnv["WEBHOOK_POLL_INTERVAL"] = "50ms";
        _platform.ControllerEnv["WEBHOOK_RETRY_BASE"] = "100ms";
        _platform.ControllerEnv["WEBHOOK_RETRY_MAX"] = "6s";
    }

    public Task DisposeAsync() => _platform.DisposeAsync();

    /// <summary>A tenant with an endpoint for execution.cancelled at the receiver, and a job; the tenant's key and the job's id.</summary>
    private async Task<(string Token, string JobId)> TenantWithEndpointAsync(WebhookReceiver receiver)
    {
        var token = await _platform.CreateTenantAsync("hooks");
        using var api = new Api(_platform.Url, token);
        await api.PostJsonAsync("/webhooks", $$"""{"url": "{{receiver.Url}}", "events": ["execution.cancelled"]}""");
        var job = await _platform.JobctlAsync(token, "create", "--name", "hooked", "--image", "exec", "--", "true");
        Assert.True(job.ExitCode == 0, job.Stderr);
        return (token, job.Line);
    }

    /// <summary>Queues <paramref name="count"/> runs of the job and cancels them: one execution.cancelled event each, no worker needed.</summary>
    private async Task CancelRunsAsync(string token, string jobId, int count)
    {
        using var api = new Api(_platform.Url, token);
        await api.PostJsonAsync($"/jobs/{jobId}/runs", $$"""{"count": {{count}}}""");
        await api.PostJsonAsync($"/jobs/{jobId}/cancel", "{}");
    }

    private async Task<long> CountAsync(string sql)
    {
        await using var cmd = _platform.Database.DataSource.CreateCommand(sql);
        return Convert.ToInt64(await cmd.ExecuteScalarAsync(), CultureInfo.InvariantCulture);
    }

    /// <summary>Waits until the outbox holds <paramref name="count"/> deliveries matching <paramref name="where"/>.</summary>
    private async Task WaitForDeliveriesAsync(string where, long count, string what)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        long seen;
        while ((seen = await CountAsync($"select count(*) from webhook_deliveries where {where}")) < count)
        {
            Assert.True(DateTime.UtcNow < deadline, $"{what}: {seen} of {count} after 30 s");
            await Task.Delay(50);
        }
    }

    [Fact]
    public async Task A_controller_killed_while_deliveries_wait_for_a_retry_loses_none_and_the_next_sends_each_once()
    {
        const int n = 40;
        await _platform.StartControllerAsync();
        await using var receiver = await WebhookReceiver.StartAsync();
        // Every first attempt fails and asks for a retry in 6 s: the deliveries then wait in the outbox.
        receiver.Answer = _ => 503;
        receiver.RetryAfter = "6";
        var (token, jobId) = await TenantWithEndpointAsync(receiver);

        await CancelRunsAsync(token, jobId, n);
        await receiver.WaitForAsync(r => r.Select(g => g.Id).Distinct().Count() >= n, TimeSpan.FromSeconds(60), $"a first attempt of each of {n} events");
        // Each first attempt recorded: no delivery is claimed mid-send when the controller dies.
        await WaitForDeliveriesAsync("state = 'pending' and attempts = 1 and last_status = 503", n, "first attempts recorded");

        _platform.Controller!.Signal(Signals.SIGKILL);
        await _platform.Controller.ExitCodeAsync(TimeSpan.FromSeconds(10));
        receiver.Answer = _ => 200;
        receiver.RetryAfter = null;
        await _platform.StartReplicaAsync("controller-after", FreePort.Next());

        await receiver.WaitForAsync(r => r.Where(g => g.Answered == 200).Select(g => g.Id).Distinct().Count() >= n, TimeSpan.FromSeconds(90),
            $"{n} events delivered by the second controller");
        await WaitForDeliveriesAsync("state = 'delivered'", n, "deliveries recorded as delivered");

        // Every event arrived, once: one 503 from the first controller, one 200 from the second, same webhook-id.
        var byId = receiver.Received.GroupBy(g => g.Id).ToList();
        Assert.Equal(n, byId.Count);
        Assert.All(byId, g => Assert.Equal([503, 200], g.Select(r => r.Answered)));
        Assert.Equal(n, receiver.Received.Where(g => g.Answered == 200).Select(g => g.Json.GetProperty("data").GetProperty("execution_id").GetGuid()).Distinct().Count());
        Assert.Equal(1, receiver.MaxInFlightPerId);
        Assert.Equal(n, await CountAsync("select count(*) from webhook_deliveries where state = 'delivered' and attempts = 2"));
    }

    [Fact]
    public async Task Two_controller_processes_sharing_the_outbox_never_send_one_delivery_at_the_same_time()
    {
        const int n = 200;
        await _platform.StartControllerAsync();
        var (_, secondUrl) = await _platform.StartReplicaAsync("controller-second", FreePort.Next());
        // Slow answers widen the window in which both could pick one delivery; some fail and are retried.
        await using var receiver = await WebhookReceiver.StartAsync(answerDelay: TimeSpan.FromMilliseconds(20));
        var random = new Random(11);
        receiver.Answer = _ => { lock (random) return random.NextDouble() < 0.3 ? 503 : 200; };
        var (token, jobId) = await TenantWithEndpointAsync(receiver);

        await CancelRunsAsync(token, jobId, n);
        await receiver.WaitForAsync(r => r.Where(g => g.Answered == 200).Select(g => g.Id).Distinct().Count() >= n, TimeSpan.FromSeconds(120),
            $"{n} delivered events");
        // Recorded after each controller counted its attempt: from here the counters are complete.
        await WaitForDeliveriesAsync("state = 'delivered'", n, "deliveries recorded as delivered");

        Assert.Equal(1, receiver.MaxInFlightPerId);
        var ok = receiver.Received.Where(g => g.Answered == 200).ToList();
        Assert.Equal(n, ok.Count);
        Assert.Equal(n, ok.Select(g => g.Json.GetProperty("data").GetProperty("execution_id").GetGuid()).Distinct().Count());
        // What each controller says it delivered adds up to each event once.
        var first = await DeliveredByAsync(_platform.Url);
        var second = await DeliveredByAsync(secondUrl);
        Console.WriteLine($"two controllers delivered {first} and {second} of {n} events ({receiver.Received.Count} requests in all)");
        Assert.Equal(n, first + second);
    }

    /// <summary>The delivered attempts one controller counts in its /metrics.</summary>
    private static async Task<long> DeliveredByAsync(string url)
    {
        using var http = new HttpClient { BaseAddress = new Uri(url) };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", Platform.AdminSecret);
        // The exporter reads the counter when scraped: every attempt recorded so far is in it.
        var text = await http.GetStringAsync("/metrics");
        long sum = 0;
        foreach (var line in text.Split('\n'))
        {
            if (!line.StartsWith("jobplane_webhook_deliveries_total{", StringComparison.Ordinal) || !line.Contains("outcome=\"delivered\"", StringComparison.Ordinal))
                continue;
            var value = line[(line.LastIndexOf('}') + 1)..].Trim().Split(' ')[0];
            sum += (long)double.Parse(value, CultureInfo.InvariantCulture);
        }
        return sum;
    }
}
