using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;

namespace Jobplane.Bench;

/// <summary>
/// Webhooks under a bad receiver. Two controller processes (both deliver) on a fresh database, noop
/// workers, one endpoint for execution.succeeded at a receiver in this process on loopback that
/// answers 503 to 30% of requests at random and is down (its port closed) for one minute in the
/// middle. BENCH_WEBHOOK_EXECUTIONS executions are submitted at a steady rate over
/// BENCH_WEBHOOK_SUBMIT_SECONDS; the run waits until every one's event was answered 200. Reported:
/// events lost (succeeded executions whose event never arrived), distinct deliveries per event at
/// the receiver after de-duplication by webhook-id, duplicates before it, and the time from the
/// status change (the delivery row, written in the transition's transaction) to its first attempt,
/// both read from the database's clock. The controllers run with the default retry settings except
/// WEBHOOK_RETRY_MAX=30s: with the default hour, the few events unlucky enough to fail eight times
/// in a row wait ten minutes and more for their next try, and the run would measure the backoff.
/// </summary>
public sealed class WebhookScenario(BenchOptions options, BenchDatabase db, Report report, string work)
{
    private static readonly TimeSpan Downtime = TimeSpan.FromMinutes(1);

    public async Task RunAsync()
    {
        var n = options.WebhookExecutions;
        var submitFor = options.WebhookSubmitDuration;
        Console.WriteLine($"\n== webhooks: {n:N0} executions over {submitFor.TotalSeconds:0} s, two controllers delivering to a receiver that fails 30% "
            + $"of requests and is down for {Downtime.TotalSeconds:0} s in the middle");
        var port = FreePort();
        await using var receiver = new FlakyReceiver(port, failRate: 0.3);
        receiver.Start();
        var settings = new Dictionary<string, string?>
        {
            ["WEBHOOK_ALLOWED_RANGES"] = "127.0.0.1/32",
            ["WEBHOOK_ALLOW_HTTP"] = "true",
            ["WEBHOOK_RETRY_MAX"] = "30s",
        };
        await using var platform = new BenchPlatform(options, db, work, settings);
        await platform.StartAsync();
        await platform.StartReplicaAsync();
        using (var hook = await platform.Http.PostAsync("/webhooks", new StringContent(
                   $$"""{"url": "http://127.0.0.1:{{port}}/hook", "events": ["execution.succeeded"]}""", Encoding.UTF8, "application/json")))
        {
            if (!hook.IsSuccessStatusCode) throw new InvalidOperationException($"creating the endpoint: {(int)hook.StatusCode} {await hook.Content.ReadAsStringAsync()}");
        }
        var jobId = await platform.CreateJobAsync("webhook-bench", "true");
        platform.StartWorkers("noop", 1, 64);

        // Steady submission; the receiver goes down when half is submitted and comes back a minute later.
        var started = DateTime.UtcNow;
        var perSecond = Math.Max(1, (int)Math.Ceiling(n / submitFor.TotalSeconds));
        var downAt = started + submitFor / 2;
        Task? outage = null;
        for (var submitted = 0; submitted < n;)
        {
            var batch = Math.Min(perSecond, n - submitted);
            await platform.SubmitManyAsync(jobId, batch);
            submitted += batch;
            if (outage is null && DateTime.UtcNow >= downAt) outage = receiver.GoDownAsync(Downtime);
            var next = started + TimeSpan.FromSeconds(submitted / (double)perSecond);
            if (next > DateTime.UtcNow) await Task.Delay(next - DateTime.UtcNow);
            platform.ThrowIfDied();
        }
        outage ??= receiver.GoDownAsync(Downtime);
        await outage;

        // Backoff 5 s doubling to 30 s, jittered: a minute down costs a minute or two of retries.
        var deadline = DateTime.UtcNow + TimeSpan.FromMinutes(10);
        while (receiver.DeliveredIds.Count < n && DateTime.UtcNow < deadline)
        {
            await Task.Delay(1000);
            platform.ThrowIfDied();
        }
        var waited = DateTime.UtcNow - started;

        await using var conn = await db.DataSource.OpenConnectionAsync();
        long succeeded, lost, rows, pending;
        double p50, p99, max;
        await using (var cmd = new Npgsql.NpgsqlCommand("select count(*) from executions where status = 'SUCCEEDED'", conn))
            succeeded = (long)(await cmd.ExecuteScalarAsync())!;
        var deliveredExecutions = receiver.DeliveredExecutions.ToArray();
        await using (var cmd = new Npgsql.NpgsqlCommand("select count(*) from executions where status = 'SUCCEEDED' and not (id = any($1))", conn))
        {
            cmd.Parameters.Add(new Npgsql.NpgsqlParameter<Guid[]> { TypedValue = deliveredExecutions });
            lost = (long)(await cmd.ExecuteScalarAsync())!;
        }
        await using (var cmd = new Npgsql.NpgsqlCommand("select count(*) from webhook_deliveries where state = 'pending'", conn))
            pending = (long)(await cmd.ExecuteScalarAsync())!;
        await using (var cmd = new Npgsql.NpgsqlCommand("""
            select count(*),
                   percentile_cont(0.5) within group (order by extract(epoch from first_attempt_at - created_at)) * 1000,
                   percentile_cont(0.99) within group (order by extract(epoch from first_attempt_at - created_at)) * 1000,
                   max(extract(epoch from first_attempt_at - created_at)) * 1000
            from webhook_deliveries
            """, conn))
        await using (var reader = await cmd.ExecuteReaderAsync())
        {
            await reader.ReadAsync();
            rows = reader.GetInt64(0);
            (p50, p99, max) = (reader.GetDouble(1), reader.GetDouble(2), Convert.ToDouble(reader.GetValue(3), CultureInfo.InvariantCulture));
        }
        var distinct = receiver.DeliveredIds.Count;
        Console.WriteLine($"   {succeeded:N0} succeeded, {rows:N0} deliveries written, {distinct:N0} distinct ids answered 200 after {waited.TotalSeconds:0} s; "
            + $"{receiver.Requests:N0} requests reached the receiver ({receiver.Failed:N0} answered 503)");
        report.Add(new Figure("webhook_events_lost", $"Webhook events lost ({n:N0} executions, 30% failures, 1 min down)", lost - pending, "events", Target.Max(0),
            $"succeeded executions whose event never reached the receiver and is not waiting for a retry; {pending} still waiting at the end"));
        report.Add(new Figure("webhook_deliveries_per_event", "Distinct deliveries per event at the receiver (after de-duplication by webhook-id)",
            rows == 0 ? double.NaN : distinct / (double)rows, "per event", Target.Max(1)));
        report.Add(new Figure("webhook_duplicate_200s", "Requests answered 200 more than once for one webhook-id (what de-duplication removes)",
            receiver.DeliveredIds.Values.Sum() - distinct, "requests"));
        report.Add(new Figure("webhook_first_attempt_p50_ms", "Status change to first delivery attempt, p50", p50, "ms"));
        report.Add(new Figure("webhook_first_attempt_p99_ms", "Status change to first delivery attempt, p99", p99, "ms",
            Note: $"max {max:0} ms; attempts made while the receiver was down are first attempts too"));
        await platform.StopWorkersAsync();
    }

    private static int FreePort()
    {
        using var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        return ((IPEndPoint)l.LocalEndpoint).Port;
    }

    /// <summary>
    /// A receiver on loopback: answers 503 to a share of requests at random, 200 to the rest, and
    /// records each webhook-id answered 200 and the execution it was about. While down its port is
    /// closed (connections refused), as a receiver that is not there.
    /// </summary>
    private sealed class FlakyReceiver(int port, double failRate) : IAsyncDisposable
    {
        private readonly Random _random = new(42);
        private HttpListener? _listener;
        private Task? _loop;

        public ConcurrentDictionary<string, int> DeliveredIds { get; } = new();
        public ConcurrentBag<Guid> DeliveredExecutions { get; } = [];
        public long Requests;
        public long Failed;

        public void Start()
        {
            var listener = new HttpListener();
            listener.Prefixes.Add($"http://127.0.0.1:{port}/");
            listener.Start();
            _listener = listener;
            _loop = Task.Run(() => ServeAsync(listener));
        }

        public async Task GoDownAsync(TimeSpan downFor)
        {
            Console.WriteLine($"   receiver down for {downFor.TotalSeconds:0} s");
            _listener?.Stop();
            _listener?.Close();
            if (_loop is not null) await _loop;
            await Task.Delay(downFor);
            Start();
            Console.WriteLine("   receiver back");
        }

        private async Task ServeAsync(HttpListener listener)
        {
            while (listener.IsListening)
            {
                HttpListenerContext context;
                try
                {
                    context = await listener.GetContextAsync();
                }
                catch (Exception) when (!listener.IsListening)
                {
                    return;
                }
                catch (HttpListenerException)
                {
                    return;
                }
                _ = Task.Run(() => Answer(context));
            }
        }

        private async Task Answer(HttpListenerContext context)
        {
            Interlocked.Increment(ref Requests);
            try
            {
                using var reader = new StreamReader(context.Request.InputStream);
                var body = await reader.ReadToEndAsync();
                bool fail;
                lock (_random) fail = _random.NextDouble() < failRate;
                if (fail)
                {
                    Interlocked.Increment(ref Failed);
                    context.Response.StatusCode = 503;
                }
                else
                {
                    var id = context.Request.Headers["webhook-id"] ?? "";
                    if (DeliveredIds.AddOrUpdate(id, 1, (_, c) => c + 1) == 1)
                        DeliveredExecutions.Add(JsonDocument.Parse(body).RootElement.GetProperty("data").GetProperty("execution_id").GetGuid());
                    context.Response.StatusCode = 200;
                }
                context.Response.Close();
            }
            catch (Exception)
            {
                // Cut off by going down: the sender sees no answer and retries.
                try { context.Response.Abort(); } catch (Exception) { }
            }
        }

        public async ValueTask DisposeAsync()
        {
            _listener?.Stop();
            _listener?.Close();
            if (_loop is not null) await _loop;
        }
    }
}
