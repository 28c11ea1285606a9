using System.Collections.Concurrent;
using System.Net;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Xunit;

namespace Jobplane.Testing;

/// <summary>One request the receiver got, with the three Standard Webhooks headers.</summary>
public sealed record ReceivedWebhook(string Id, string Timestamp, string Signature, string Body, int Answered)
{
    public JsonElement Json => JsonDocument.Parse(Body).RootElement;
    public string Type => Json.GetProperty("type").GetString()!;
}

/// <summary>
/// A real HTTP server on loopback (Kestrel on 127.0.0.1, a port of its own) that records every
/// webhook request and answers what the test says: a status (with Retry-After), or, while
/// <see cref="Down"/>, a dropped connection as from a receiver that is not there. It also counts
/// how many requests were in flight at once, in all and with one webhook-id.
/// </summary>
public sealed class WebhookReceiver : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly ConcurrentDictionary<string, int> _inFlight = new();
    private int _maxInFlightPerId;
    private int _inFlightNow;
    private int _maxInFlight;

    private WebhookReceiver(WebApplication app) => _app = app;

    public Uri Url { get; private set; } = null!;

    /// <summary>Every request answered (not those dropped while down), in arrival order.</summary>
    public ConcurrentQueue<ReceivedWebhook> Received { get; } = new();

    /// <summary>The status to answer each request with; 200 unless set.</summary>
    public Func<ReceivedWebhook, int> Answer { get; set; } = _ => 200;

    public string? RetryAfter { get; set; }

    /// <summary>While true, every connection is dropped without an answer.</summary>
    public bool Down { get; set; }

    public int Dropped;

    /// <summary>The most requests carrying one webhook-id that were being handled at the same moment.</summary>
    public int MaxInFlightPerId => Volatile.Read(ref _maxInFlightPerId);

    /// <summary>The most requests (of any webhook-ids) that were being handled at the same moment.</summary>
    public int MaxInFlight => Volatile.Read(ref _maxInFlight);

    public static async Task<WebhookReceiver> StartAsync(TimeSpan? answerDelay = null)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseKestrel(k => k.Listen(IPAddress.Loopback, 0));
        var app = builder.Build();
        var receiver = new WebhookReceiver(app);
        app.MapPost("/hook", async (HttpContext http) =>
        {
            if (receiver.Down)
            {
                Interlocked.Increment(ref receiver.Dropped);
                http.Abort();
                return;
            }
            var id = http.Request.Headers["webhook-id"].ToString();
            var now = receiver._inFlight.AddOrUpdate(id, 1, (_, n) => n + 1);
            InterlockedMax(ref receiver._maxInFlightPerId, now);
            InterlockedMax(ref receiver._maxInFlight, Interlocked.Increment(ref receiver._inFlightNow));
            var counted = true;
            try
            {
                using var reader = new StreamReader(http.Request.Body);
                var body = await reader.ReadToEndAsync();
                if (answerDelay is { } delay) await Task.Delay(delay);
                var got = new ReceivedWebhook(id, http.Request.Headers["webhook-timestamp"].ToString(),
                    http.Request.Headers["webhook-signature"].ToString(), body, 0);
                var status = receiver.Answer(got);
                receiver.Received.Enqueue(got with { Answered = status });
                http.Response.StatusCode = status;
                if (receiver.RetryAfter is { } after) http.Response.Headers.RetryAfter = after;
                // Out of the counts before the answer leaves: a sender may start its next request (or
                // this one's retry) as soon as it has read this answer, possibly before this handler returns.
                Uncount();
                await http.Response.WriteAsync(status is >= 200 and < 300 ? "ok" : $"answer {status}");
            }
            finally
            {
                if (counted) Uncount();
            }

            void Uncount()
            {
                counted = false;
                receiver._inFlight.AddOrUpdate(id, 0, (_, n) => n - 1);
                Interlocked.Decrement(ref receiver._inFlightNow);
            }
        });
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single();
        receiver.Url = new Uri(new Uri(address), "/hook");
        return receiver;
    }

    /// <summary>Waits until <paramref name="done"/> holds of what was received, failing after <paramref name="timeout"/>.</summary>
    public async Task WaitForAsync(Func<IReadOnlyList<ReceivedWebhook>, bool> done, TimeSpan timeout, string what)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!done([.. Received]))
        {
            if (DateTime.UtcNow > deadline) Assert.Fail($"the receiver did not get {what} within {timeout}; it got {Received.Count} requests: "
                + string.Join(", ", Received.Select(r => $"{r.Type}={r.Answered}")));
            await Task.Delay(50);
        }
    }

    private static void InterlockedMax(ref int target, int value)
    {
        int seen;
        while ((seen = Volatile.Read(ref target)) < value && Interlocked.CompareExchange(ref target, value, seen) != seen) { }
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
