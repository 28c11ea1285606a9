using System.Diagnostics.Metrics;
using System.Globalization;
using System.Net;
using System.Text;
using Jobplane.Store.Webhooks;
using Jobplane.Webhooks;

namespace Jobplane.Controller.Webhooks;

/// <summary>
/// Sends the webhook outbox. Every controller runs one (unless WEBHOOK_DELIVERY=false): it claims
/// due deliveries with SKIP LOCKED, so more controllers send faster and none sends a delivery
/// another is sending, keeps up to WEBHOOK_CONCURRENCY requests in flight, at most
/// WEBHOOK_CONCURRENCY_PER_ENDPOINT of them to one endpoint (so one tenant's slow receiver cannot
/// hold every slot while other tenants' events wait), and records each attempt. At least once: a controller that dies mid-send leaves its deliveries to come due again
/// when their claim runs out, so a receiver may see a delivery twice (same webhook-id) and must
/// de-duplicate by it. Deliveries to one endpoint are not ordered: retries and parallel sends
/// overtake each other; the payload's timestamp says when each event happened.
/// <para>What an answer means: 2xx delivered; 410 Gone fails the delivery and disables the endpoint;
/// 429, 408, 5xx, a timeout, a refused address or a network error are retried with exponential
/// backoff and jitter (Retry-After honoured, up to WEBHOOK_RETRY_MAX) until WEBHOOK_RETRY_PERIOD after
/// the event; any other answer (a redirect, which is never followed, or a 4xx) fails it at once.</para>
/// </summary>
public sealed class WebhookDispatcher : BackgroundService
{
    /// <summary>How much of the receiver's answer the delivery log keeps.</summary>
    public const int ResponseHeadBytes = 500;
    private static readonly TimeSpan BacklogEvery = TimeSpan.FromSeconds(10);
    private static readonly TimeSpan RetentionEvery = TimeSpan.FromMinutes(10);

    private readonly WebhookDeliveryStore _store;
    private readonly WebhookGuard _guard;
    private readonly WebhookOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger<WebhookDispatcher> _logger;
    private readonly Counter<long> _deliveries;
    private readonly Histogram<double> _duration;
    /// <summary>The last backlog reading, replaced whole so a scrape never pairs one reading's count with another's age.</summary>
    private BacklogReading _backlog = new(0, 0);
    /// <summary>This controller's sends in flight per endpoint, for the per-endpoint share (guarded by itself).</summary>
    private readonly Dictionary<Guid, int> _sendingTo = [];
    /// <summary>
    /// Released when a send to an endpoint at its full share ends (at most one permit): the loop,
    /// waiting out its poll because every due delivery was to such an endpoint, claims again at
    /// once. Without it one endpoint got at most its share per poll interval, however fast it answered.
    /// </summary>
    private readonly SemaphoreSlim _shareFreed = new(0, 1);

    private sealed record BacklogReading(long Due, double OldestSeconds);

    public WebhookDispatcher(WebhookDeliveryStore store, WebhookGuard guard, ControllerOptions options, ControllerMetrics metrics, TimeProvider time,
        ILogger<WebhookDispatcher> logger)
    {
        _store = store;
        _guard = guard;
        _options = options.Webhooks;
        _time = time;
        _logger = logger;
        var meter = metrics.Meter;
        _deliveries = meter.CreateCounter<long>("jobplane.webhook.deliveries", "{attempt}",
            "Webhook delivery attempts by outcome: delivered, retrying (will be tried again), failed (for good)");
        _duration = meter.CreateHistogram("jobplane.webhook.delivery.duration", "s", "Time from the request's start to the receiver's answer",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30] });
        meter.CreateObservableGauge("jobplane.webhook.backlog", () => Volatile.Read(ref _backlog).Due, "{delivery}", "Webhook deliveries due and not yet sent");
        meter.CreateObservableGauge("jobplane.webhook.backlog.age", () => Volatile.Read(ref _backlog).OldestSeconds, "s", "How long the oldest due webhook delivery has waited");
    }

    /// <summary>How long a claim lasts: longer than one attempt can take, so only a dead claimer's deliveries come due again.</summary>
    private TimeSpan Lease => _options.Timeout + _options.ConnectTimeout + TimeSpan.FromSeconds(30);

    protected override async Task ExecuteAsync(CancellationToken stop)
    {
        if (!_options.Delivering) return;
        using var slots = new SemaphoreSlim(_options.Concurrency, _options.Concurrency);
        var inFlight = new HashSet<Task>();
        long lastBacklog = 0, lastRetention = 0;
        try
        {
            while (!stop.IsCancellationRequested)
            {
                // Wait for a free slot, then claim as many deliveries as there are free slots.
                await slots.WaitAsync(stop);
                slots.Release();
                IReadOnlyList<ClaimedDelivery> claimed;
                try
                {
                    claimed = await _store.ClaimAsync(slots.CurrentCount, Lease, _options.ConcurrencyPerEndpoint, SendingNow(), stop);
                    if (lastBacklog == 0 || _time.GetElapsedTime(lastBacklog) > BacklogEvery)
                    {
                        var (due, oldest) = await _store.BacklogAsync(stop);
                        Volatile.Write(ref _backlog, new BacklogReading(due, oldest.TotalSeconds));
                        lastBacklog = _time.GetTimestamp();
                    }
                    if (lastRetention == 0 || _time.GetElapsedTime(lastRetention) > RetentionEvery)
                    {
                        while (await _store.FailStrandedAsync(_options.RetryPeriod, 1000, stop) == 1000) { }
                        while (await _store.DeleteFinishedAsync(_options.DeliveryRetention, 1000, stop) == 1000) { }
                        lastRetention = _time.GetTimestamp();
                    }
                }
                catch (Exception e) when (e is not OperationCanceledException || !stop.IsCancellationRequested)
                {
                    WebhookLog.ClaimFailed(_logger, e);
                    await Task.Delay(_options.PollInterval * 4, _time, stop);
                    continue;
                }
                foreach (var delivery in claimed)
                {
                    await slots.WaitAsync(stop);
                    Sending(delivery.EndpointId, +1);
                    var task = Task.Run(async () =>
                    {
                        try
                        {
                            await DeliverAsync(delivery, stop);
                        }
                        finally
                        {
                            Sending(delivery.EndpointId, -1);
                            slots.Release();
                        }
                    }, CancellationToken.None);
                    lock (inFlight) inFlight.Add(task);
                    _ = task.ContinueWith(t => { lock (inFlight) inFlight.Remove(t); }, TaskScheduler.Default);
                }
                if (claimed.Count == 0) await NextPollAsync(stop);
            }
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
        }
        Task[] left;
        lock (inFlight) left = [.. inFlight];
        // Sends under way finish (or time out) and are recorded; what is not recorded comes due again.
        try
        {
            await Task.WhenAll(left).WaitAsync(_options.Timeout + TimeSpan.FromSeconds(5), _time, CancellationToken.None);
        }
        catch (TimeoutException)
        {
            // Left to their claims: they come due again.
        }
    }

    private void Sending(Guid endpointId, int change)
    {
        lock (_sendingTo)
        {
            var before = _sendingTo.GetValueOrDefault(endpointId);
            var now = before + change;
            if (now > 0) _sendingTo[endpointId] = now;
            else _sendingTo.Remove(endpointId);
            // Released only here, under this lock, so the check keeps the one permit from overflowing
            // (a waiter resumes on the thread pool, not inside the lock).
            if (before >= _options.ConcurrencyPerEndpoint && now < _options.ConcurrencyPerEndpoint && _shareFreed.CurrentCount == 0)
                _shareFreed.Release();
        }
    }

    /// <summary>This controller's sends in flight per endpoint: the next claim keeps each endpoint within its share.</summary>
    private Dictionary<Guid, int> SendingNow()
    {
        lock (_sendingTo)
            return new Dictionary<Guid, int>(_sendingTo);
    }

    /// <summary>Waits out the poll interval, or less if a send ends that frees a share the last claim could not use.</summary>
    private async Task NextPollAsync(CancellationToken stop)
    {
        using var either = CancellationTokenSource.CreateLinkedTokenSource(stop);
        var poll = Task.Delay(_options.PollInterval, _time, either.Token);
        var freed = _shareFreed.WaitAsync(either.Token);
        await Task.WhenAny(poll, freed);
        // The other wait ends cancelled (a permit it took all the same is the wake-up being used now).
        await either.CancelAsync();
        stop.ThrowIfCancellationRequested();
    }

    /// <summary>One attempt of one delivery: signed, sent to the checked address, classified and recorded.</summary>
    internal async Task DeliverAsync(ClaimedDelivery delivery, CancellationToken stop)
    {
        var outcome = await SendAsync(delivery, stop);
        var kind = outcome.Delivered ? "delivered" : outcome.Final ? "failed" : "retrying";
        _deliveries.Add(1, new KeyValuePair<string, object?>("outcome", kind));
        try
        {
            // Recorded even while stopping: the attempt happened.
            if (await _store.RecordAsync(delivery, outcome, _options.RetryPeriod, CancellationToken.None))
                WebhookLog.EndpointDisabled(_logger, delivery.EndpointId, delivery.TenantId);
        }
        catch (Exception e)
        {
            // Not recorded: the claim runs out and the delivery is tried again (at least once).
            WebhookLog.RecordFailed(_logger, delivery.Id, e);
        }
    }

    private async Task<DeliveryOutcome> SendAsync(ClaimedDelivery delivery, CancellationToken stop)
    {
        var body = Encoding.UTF8.GetBytes(delivery.Payload);
        var timestamp = _time.GetUtcNow();
        using var request = new HttpRequestMessage(HttpMethod.Post, delivery.Url) { Content = new ByteArrayContent(body) };
        request.Content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/json");
        WebhookSignature.Sign(delivery.Id.ToString(), timestamp, body, [.. delivery.Secrets.Select(WebhookSecret.Parse)]).ApplyTo(request);

        var started = _time.GetTimestamp();
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(stop);
        timeout.CancelAfter(_options.Timeout);
        try
        {
            using var response = await _guard.Client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, timeout.Token);
            var head = await ReadHeadAsync(response, timeout.Token);
            var latency = _time.GetElapsedTime(started);
            _duration.Record(latency.TotalSeconds);
            var status = (int)response.StatusCode;
            var ms = (int)latency.TotalMilliseconds;
            if (status is >= 200 and < 300)
                return new DeliveryOutcome { StatusCode = status, LatencyMs = ms, ResponseHead = head, Final = true, Delivered = true };
            if (status == 410)
                return new DeliveryOutcome
                {
                    StatusCode = status,
                    LatencyMs = ms,
                    ResponseHead = head,
                    Final = true,
                    Delivered = false,
                    Error = "the receiver answered 410 Gone",
                    DisableEndpoint = "the receiver answered 410 Gone: it no longer wants deliveries",
                };
            if (status is 429 or 408 or >= 500)
                return new DeliveryOutcome
                {
                    StatusCode = status,
                    LatencyMs = ms,
                    ResponseHead = head,
                    Final = false,
                    Delivered = false,
                    Error = $"HTTP {status}",
                    RetryIn = RetryDelay(delivery.Attempt, RetryAfter(response)),
                };
            var error = status is >= 300 and < 400
                ? $"HTTP {status}: redirects are not followed (Location: {Shorten(response.Headers.Location?.OriginalString)})"
                : $"HTTP {status}: not retried (only 408, 429 and 5xx are)";
            return new DeliveryOutcome { StatusCode = status, LatencyMs = ms, ResponseHead = head, Final = true, Delivered = false, Error = error };
        }
        catch (Exception e) when (e is HttpRequestException or OperationCanceledException or IOException or DestinationRefusedException
                                  && !stop.IsCancellationRequested)
        {
            var ms = (int)_time.GetElapsedTime(started).TotalMilliseconds;
            var error = e switch
            {
                OperationCanceledException => $"no answer within {Api.Durations.Format(_options.Timeout)} (WEBHOOK_TIMEOUT)",
                _ when FindRefusal(e) is { } refused => "address refused: " + refused.Message,
                _ => Shorten(e.InnerException is { } inner ? $"{e.Message} ({inner.Message})" : e.Message),
            };
            return new DeliveryOutcome { LatencyMs = ms, Final = false, Delivered = false, Error = error, RetryIn = RetryDelay(delivery.Attempt, null) };
        }
    }

    private static DestinationRefusedException? FindRefusal(Exception? e)
    {
        for (; e is not null; e = e.InnerException)
            if (e is DestinationRefusedException refused) return refused;
        return null;
    }

    /// <summary>Exponential from WEBHOOK_RETRY_BASE, doubled per attempt, with jitter (half to all of it), at most WEBHOOK_RETRY_MAX; a Retry-After within that wins.</summary>
    internal TimeSpan RetryDelay(int attempt, TimeSpan? retryAfter)
    {
        var exponential = _options.RetryBase.TotalSeconds * Math.Pow(2, Math.Min(attempt - 1, 30));
        var capped = Math.Min(exponential, _options.RetryMax.TotalSeconds);
        var jittered = capped * (0.5 + Random.Shared.NextDouble() * 0.5);
        if (retryAfter is { } after && after > TimeSpan.Zero) return after < _options.RetryMax ? after : _options.RetryMax;
        return TimeSpan.FromSeconds(jittered);
    }

    private TimeSpan? RetryAfter(HttpResponseMessage response)
    {
        if (response.Headers.RetryAfter is not { } header) return null;
        if (header.Delta is { } delta) return delta;
        if (header.Date is { } date) return date - _time.GetUtcNow();
        return null;
    }

    private static async Task<string?> ReadHeadAsync(HttpResponseMessage response, CancellationToken ct)
    {
        await using var stream = await response.Content.ReadAsStreamAsync(ct);
        var buffer = new byte[ResponseHeadBytes];
        var read = 0;
        while (read < buffer.Length && await stream.ReadAsync(buffer.AsMemory(read), ct) is var n and > 0) read += n;
        if (read == 0) return null;
        // Text for the log: invalid bytes become replacement characters, nothing is executed or parsed.
        return Api.StorableText.Clean(Encoding.UTF8.GetString(buffer, 0, read));
    }

    private static string Shorten(string? text) => text is null ? "" : text.Length <= 300 ? text : text[..300] + "…";
}

internal static partial class WebhookLog
{
    [LoggerMessage(Level = LogLevel.Warning, Message = "Claiming webhook deliveries failed; trying again shortly")]
    public static partial void ClaimFailed(ILogger logger, Exception e);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Recording webhook delivery {DeliveryId} failed; it will be sent again when its claim runs out")]
    public static partial void RecordFailed(ILogger logger, Guid deliveryId, Exception e);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Webhook endpoint {EndpointId} of tenant {TenantId} was disabled")]
    public static partial void EndpointDisabled(ILogger logger, Guid endpointId, Guid tenantId);
}
