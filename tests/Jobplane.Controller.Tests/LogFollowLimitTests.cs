using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using Jobplane.Api;
using Jobplane.Controller.Logs;
using Jobplane.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace Jobplane.Controller.Tests;

/// <summary>
/// A controller whose followers never poll in practice (the safety read once an hour), so whatever
/// reaches a follower came through a notification; and two streams per tenant.
/// </summary>
public sealed class NotifiedFollowFixture : IAsyncLifetime
{
    public ControllerHost Host { get; } = new(new Dictionary<string, string?>
    {
        ["LOG_FOLLOW_POLL_INTERVAL"] = "3600s",
        ["LOG_FOLLOW_MAX_PER_TENANT"] = "2",
    });

    public Task InitializeAsync() => Host.InitializeAsync();

    public Task DisposeAsync() => Host.DisposeAsync();
}

/// <summary>Followed log streams: woken by notifications, capped per tenant, bounded in lifetime.</summary>
public sealed class LogFollowLimitTests(NotifiedFollowFixture fixture) : IClassFixture<NotifiedFollowFixture>
{
    private readonly ControllerHost _host = fixture.Host;

    internal sealed record SseEvent(string? Event, string? Id, string Data);

    internal static async Task<SseEvent?> NextEventAsync(StreamReader reader, CancellationToken ct)
    {
        string? type = null, id = null;
        var data = new StringBuilder();
        var any = false;
        while (true)
        {
            var line = await reader.ReadLineAsync(ct);
            if (line is null) return any ? new SseEvent(type, id, data.ToString()) : null;
            if (line.Length == 0)
            {
                if (any) return new SseEvent(type, id, data.ToString());
                continue;
            }
            if (line.StartsWith(':')) continue;
            any = true;
            var colon = line.IndexOf(':', StringComparison.Ordinal);
            var field = colon < 0 ? line : line[..colon];
            var value = colon < 0 ? "" : line[(colon + 1)..].TrimStart(' ');
            switch (field)
            {
                case "event": type = value; break;
                case "id": id = value; break;
                case "data":
                    if (data.Length > 0) data.Append('\n');
                    data.Append(value);
                    break;
            }
        }
    }

    internal static string Content(SseEvent e)
    {
        Assert.True(e.Event is null, $"expected a log line, got event '{e.Event}': {e.Data}");
        return JsonSerializer.Deserialize(e.Data, Api.Json.LogEntry)!.Content;
    }

    internal static async Task<(HttpResponseMessage Response, StreamReader Reader)> OpenAsync(HttpClient client, Guid executionId,
        CancellationToken ct, long? lastEventId = null)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, $"/executions/{executionId}/logs?follow=true");
        if (lastEventId is { } last) request.Headers.Add("Last-Event-ID", last.ToString(CultureInfo.InvariantCulture));
        var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, ct);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return (response, new StreamReader(await response.Content.ReadAsStreamAsync(ct)));
    }

    [Fact]
    public async Task A_follower_gets_new_lines_and_the_end_through_notifications_without_polling()
    {
        using var worker = _host.WorkerClient();
        var (_, client, _, claim) = await Api.RunningAsync(_host, worker);
        using var guard = new CancellationTokenSource(TimeSpan.FromSeconds(60)); // a hang guard: without notifications the next read is an hour away
        var followers = _host.Services.GetRequiredService<LogFollowers>();

        var (response, reader) = await OpenAsync(client, claim.ExecutionId, guard.Token);
        using (response)
        using (reader)
        {
            var woken = followers.NotifiedWakeUps;
            await Api.ShipLogsAsync(worker, claim.ExecutionId, claim.LeaseToken, "first");
            Assert.Equal("first", Content((await NextEventAsync(reader, guard.Token))!));
            await Api.ShipLogsAsync(worker, claim.ExecutionId, claim.LeaseToken, "second");
            Assert.Equal("second", Content((await NextEventAsync(reader, guard.Token))!));
            Assert.True(followers.NotifiedWakeUps > woken, "lines arrived but no notification woke the follower");

            // Finishing notifies too (the status trigger): the stream ends without a safety read.
            Assert.Equal(ExecutionStatus.Succeeded, await Api.ResultAsync(worker, claim.ExecutionId, claim.LeaseToken, 0));
            var end = (await NextEventAsync(reader, guard.Token))!;
            Assert.Equal("end", end.Event);
            Assert.Equal(ExecutionStatus.Succeeded, JsonSerializer.Deserialize(end.Data, Api.Json.LogStreamEnd)!.Status);
            Assert.Null(await NextEventAsync(reader, guard.Token));
        }
    }

    [Fact]
    public async Task A_cancelled_execution_ends_its_followers_through_the_status_notification()
    {
        using var worker = _host.WorkerClient();
        var (_, client) = await _host.TenantClientAsync();
        var job = await Api.CreateJobAsync(client);
        var run = await Api.RunAsync(client, job);
        using var guard = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var (response, reader) = await OpenAsync(client, run.ExecutionId, guard.Token);
        using (response)
        using (reader)
        {
            await Api.CancelAsync(client, run.ExecutionId); // PENDING -> CANCELLED
            var end = (await NextEventAsync(reader, guard.Token))!;
            Assert.Equal("end", end.Event);
            Assert.Equal(ExecutionStatus.Cancelled, JsonSerializer.Deserialize(end.Data, Api.Json.LogStreamEnd)!.Status);
        }
    }

    [Fact]
    public async Task A_tenant_over_its_stream_cap_gets_429_and_other_tenants_do_not()
    {
        using var worker = _host.WorkerClient();
        var (_, client, _, claim) = await Api.RunningAsync(_host, worker);
        using var guard = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var (r1, s1) = await OpenAsync(client, claim.ExecutionId, guard.Token);
        var (r2, s2) = await OpenAsync(client, claim.ExecutionId, guard.Token);

        var third = await client.GetAsync($"/executions/{claim.ExecutionId}/logs?follow=true", HttpCompletionOption.ResponseHeadersRead, guard.Token);
        var error = await Api.AssertErrorAsync(third, (HttpStatusCode)429, ErrorCodes.TooManyLogStreams);
        Assert.Contains("LOG_FOLLOW_MAX_PER_TENANT", error.Error, StringComparison.Ordinal);
        // Reading pages is not a stream and is not limited by it.
        await Api.ReadAsync(await client.GetAsync($"/executions/{claim.ExecutionId}/logs"), Api.Json.LogPage);

        // Another tenant has slots of its own.
        var (_, otherClient, _, otherClaim) = await Api.RunningAsync(_host, worker);
        var (r3, s3) = await OpenAsync(otherClient, otherClaim.ExecutionId, guard.Token);
        r3.Dispose();
        s3.Dispose();

        // Closing one frees its slot.
        r1.Dispose();
        s1.Dispose();
        HttpResponseMessage? again = null;
        for (var i = 0; i < 100; i++)
        {
            again = await client.GetAsync($"/executions/{claim.ExecutionId}/logs?follow=true", HttpCompletionOption.ResponseHeadersRead, guard.Token);
            if (again.StatusCode == HttpStatusCode.OK) break;
            again.Dispose();
            await Task.Delay(100, guard.Token); // the server notices the closed stream asynchronously
        }
        Assert.Equal(HttpStatusCode.OK, again!.StatusCode);
        again.Dispose();
        r2.Dispose();
        s2.Dispose();
    }
}

/// <summary>A controller whose streams last two seconds.</summary>
public sealed class ShortFollowFixture : IAsyncLifetime
{
    public ControllerHost Host { get; } = new(new Dictionary<string, string?> { ["LOG_FOLLOW_MAX_DURATION"] = "2s" });

    public Task InitializeAsync() => Host.InitializeAsync();

    public Task DisposeAsync() => Host.DisposeAsync();
}

/// <summary>LOG_FOLLOW_MAX_DURATION: the server ends a long stream with a reconnect event; resuming loses and repeats nothing.</summary>
public sealed class LogFollowLifetimeTests(ShortFollowFixture fixture) : IClassFixture<ShortFollowFixture>
{
    private readonly ControllerHost _host = fixture.Host;

    [Fact]
    public async Task A_stream_past_its_lifetime_ends_with_reconnect_and_resumes_with_Last_Event_ID()
    {
        using var worker = _host.WorkerClient();
        var (_, client, _, claim) = await Api.RunningAsync(_host, worker);
        using var guard = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await Api.ShipLogsAsync(worker, claim.ExecutionId, claim.LeaseToken, "a", "b");

        var seen = new List<string>();
        long lastId = 0;
        var (response, reader) = await LogFollowLimitTests.OpenAsync(client, claim.ExecutionId, guard.Token);
        using (response)
        using (reader)
        {
            LogFollowLimitTests.SseEvent? e;
            while ((e = await LogFollowLimitTests.NextEventAsync(reader, guard.Token)) is { Event: null })
            {
                seen.Add(LogFollowLimitTests.Content(e));
                lastId = long.Parse(e.Id!, CultureInfo.InvariantCulture);
            }
            Assert.NotNull(e);
            Assert.Equal("reconnect", e.Event);
            var reconnect = JsonSerializer.Deserialize(e.Data, Api.Json.LogStreamReconnect)!;
            Assert.Equal(lastId, reconnect.LastEventId);
            Assert.Contains("LOG_FOLLOW_MAX_DURATION", reconnect.Reason, StringComparison.Ordinal);
            Assert.Null(await LogFollowLimitTests.NextEventAsync(reader, guard.Token)); // the server closed it
        }

        await Api.ShipLogsAsync(worker, claim.ExecutionId, claim.LeaseToken, "c");
        Assert.Equal(ExecutionStatus.Succeeded, await Api.ResultAsync(worker, claim.ExecutionId, claim.LeaseToken, 0));
        var (again, rest) = await LogFollowLimitTests.OpenAsync(client, claim.ExecutionId, guard.Token, lastEventId: lastId);
        using (again)
        using (rest)
        {
            LogFollowLimitTests.SseEvent? e;
            while ((e = await LogFollowLimitTests.NextEventAsync(rest, guard.Token)) is { Event: null }) seen.Add(LogFollowLimitTests.Content(e));
            Assert.Equal("end", e!.Event);
        }
        Assert.Equal(["a", "b", "c"], seen);
    }
}
