using System.Net;
using System.Text;
using System.Text.Json;
using Jobplane.Api;
using Jobplane.Testing;

namespace Jobplane.Controller.Tests;

/// <summary>GET /executions/{id}/logs?follow=true: Server-Sent Events that end by themselves when the execution ends.</summary>
public sealed class LogFollowTests(ControllerFixture fixture) : IClassFixture<ControllerFixture>
{
    private readonly ControllerHost _host = fixture.Host;

    private sealed record SseEvent(string? Event, string? Id, string Data);

    /// <summary>Reads one event (skipping comments such as keep-alives); null at the end of the stream.</summary>
    private static async Task<SseEvent?> NextEventAsync(StreamReader reader, CancellationToken ct)
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

    private static LogEntry ReadLine(SseEvent e)
    {
        Assert.True(e.Event is null or "message", $"expected a log line, got event '{e.Event}': {e.Data}");
        var entry = JsonSerializer.Deserialize(e.Data, Api.Json.LogEntry)!;
        Assert.Equal(entry.Id.ToString(System.Globalization.CultureInfo.InvariantCulture), e.Id);
        return entry;
    }

    [Fact]
    public async Task Follow_streams_lines_as_they_are_shipped_then_ends_with_the_final_status()
    {
        using var worker = _host.WorkerClient();
        var (_, client, _, claim) = await Api.RunningAsync(_host, worker);
        var id = claim.ExecutionId;
        using var guard = new CancellationTokenSource(TimeSpan.FromSeconds(60)); // a hang guard, not a timing assertion

        await Api.ShipLogsAsync(worker, id, claim.LeaseToken, "first");

        using var request = new HttpRequestMessage(HttpMethod.Get, $"/executions/{id}/logs?follow=true");
        using var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, guard.Token);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(guard.Token));

        var first = ReadLine((await NextEventAsync(reader, guard.Token))!);
        Assert.Equal("first", first.Content);

        // The execution is still running: the stream stays open for lines shipped now.
        await Api.ShipLogsAsync(worker, id, claim.LeaseToken, "second", "third");
        Assert.Equal("second", ReadLine((await NextEventAsync(reader, guard.Token))!).Content);
        Assert.Equal("third", ReadLine((await NextEventAsync(reader, guard.Token))!).Content);

        await Api.ShipLogsAsync(worker, id, claim.LeaseToken, "last words");
        Assert.Equal(ExecutionStatus.Succeeded, await Api.ResultAsync(worker, id, claim.LeaseToken, 0));

        var rest = new List<SseEvent>();
        while (await NextEventAsync(reader, guard.Token) is { } e) rest.Add(e);

        // Every remaining line, then exactly one 'end' event carrying the final status, then the stream closes.
        Assert.True(rest.Count >= 2, $"expected the last line and the end event, got {rest.Count} events");
        Assert.Equal(["last words"], rest.Take(rest.Count - 1).Select(ReadLine).Select(l => l.Content));
        var end = rest[^1];
        Assert.Equal("end", end.Event);
        var final = JsonSerializer.Deserialize(end.Data, Api.Json.LogStreamEnd)!;
        Assert.Equal(id, final.ExecutionId);
        Assert.Equal(ExecutionStatus.Succeeded, final.Status);
    }

    [Fact]
    public async Task Following_a_finished_execution_replays_its_lines_and_ends_at_once()
    {
        using var worker = _host.WorkerClient();
        var (_, client, _, claim) = await Api.RunningAsync(_host, worker, maxAttempts: 1);
        await Api.ShipLogsAsync(worker, claim.ExecutionId, claim.LeaseToken, "a", "b", "c");
        Assert.Equal(ExecutionStatus.Failed, await Api.ResultAsync(worker, claim.ExecutionId, claim.LeaseToken, 9));
        using var guard = new CancellationTokenSource(TimeSpan.FromSeconds(60));

        var all = await Api.ReadAsync(await client.GetAsync($"/executions/{claim.ExecutionId}/logs"), Api.Json.LogPage);

        // Resume after the first line (as a reconnecting follower would with Last-Event-ID).
        using var request = new HttpRequestMessage(HttpMethod.Get, $"/executions/{claim.ExecutionId}/logs?follow=true");
        request.Headers.Add("Last-Event-ID", all.Logs[0].Id.ToString(System.Globalization.CultureInfo.InvariantCulture));
        using var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, guard.Token);
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(guard.Token));
        var events = new List<SseEvent>();
        while (await NextEventAsync(reader, guard.Token) is { } e) events.Add(e);

        Assert.Equal(["b", "c"], events.Take(events.Count - 1).Select(ReadLine).Select(l => l.Content));
        Assert.Equal("end", events[^1].Event);
        Assert.Equal(ExecutionStatus.Failed, JsonSerializer.Deserialize(events[^1].Data, Api.Json.LogStreamEnd)!.Status);
    }

    [Fact]
    public async Task A_bad_follow_value_is_400()
    {
        using var worker = _host.WorkerClient();
        var (_, client, _, claim) = await Api.RunningAsync(_host, worker);
        await Api.AssertErrorAsync(await client.GetAsync($"/executions/{claim.ExecutionId}/logs?follow=maybe"), HttpStatusCode.BadRequest);
        await Api.AssertErrorAsync(await client.GetAsync($"/executions/{claim.ExecutionId}/logs?after_id=-1"), HttpStatusCode.BadRequest);
    }
}
