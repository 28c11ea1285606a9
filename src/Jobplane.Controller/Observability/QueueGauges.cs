using System.Diagnostics.Metrics;
using Jobplane.Store;

namespace Jobplane.Controller.Observability;

/// <summary>
/// Queue depth by tenant, priority and state; age of each tenant's oldest ready execution; DLQ size
/// by tenant. A scrape never touches the database: a background loop reads the figures every
/// QUEUE_METRICS_INTERVAL (one round trip, see <see cref="QueueStatsStore"/> for its cost) and the
/// gauges report the last answer. The oldest-ready age keeps growing between reads, counted on
/// this process's monotonic clock from the age the database reported. Every replica reads the
/// same figures, so sum by replica only with max() or avg(), never sum().
/// </summary>
public sealed class QueueGauges : BackgroundService
{
    private static readonly double[] ReadBuckets = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

    private readonly QueueStatsStore _store;
    private readonly ControllerOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger<QueueGauges> _logger;
    private readonly Histogram<double> _readDuration;
    private volatile Reading? _last;
    // One on-demand read at a time: pages arriving together while the figures are stale wait for
    // the read already running instead of each scanning the queue.
    private readonly SemaphoreSlim _reading = new(1, 1);

    private sealed record Reading(QueueSnapshot Snapshot, long At);

    public QueueGauges(QueueStatsStore store, ControllerOptions options, ControllerMetrics metrics, TimeProvider time, ILogger<QueueGauges> logger)
    {
        _store = store;
        _options = options;
        _time = time;
        _logger = logger;
        var meter = metrics.Meter;
        meter.CreateObservableGauge("jobplane.queue.depth", ObserveDepth, "{execution}",
            "Executions waiting or running, by tenant_id, priority and state (ready, scheduled, retrying, running)");
        meter.CreateObservableGauge("jobplane.queue.oldest_ready.age", ObserveOldest, "s",
            "How long the tenant's oldest ready execution has waited since it became due");
        meter.CreateObservableGauge("jobplane.dlq.size", ObserveDlq, "{execution}", "Unretried dead letters, by tenant_id");
        _readDuration = meter.CreateHistogram("jobplane.queue.stats.duration", "s", "Time to read the queue statistics behind these gauges",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = ReadBuckets });
    }

    /// <summary>Reads the figures now (also used by tests, instead of waiting for the timer).</summary>
    public async Task RefreshAsync(CancellationToken ct)
    {
        var started = _time.GetTimestamp();
        var snapshot = await _store.ReadAsync(ct);
        _readDuration.Record(_time.GetElapsedTime(started).TotalSeconds);
        _last = new Reading(snapshot, _time.GetTimestamp());
    }

    /// <summary>
    /// The last figures read and how old they are (the dashboard's overview shows them); read now when
    /// there are none yet or they are older than <paramref name="maxAge"/>.
    /// </summary>
    public async Task<(QueueSnapshot Snapshot, TimeSpan Age)> LatestAsync(TimeSpan maxAge, CancellationToken ct)
    {
        if (Fresh(maxAge) is { } fresh) return (fresh.Snapshot, _time.GetElapsedTime(fresh.At));
        await _reading.WaitAsync(ct);
        try
        {
            // Another caller may have read while this one waited.
            if (Fresh(maxAge) is null) await RefreshAsync(ct);
        }
        finally
        {
            _reading.Release();
        }
        var last = _last!;
        return (last.Snapshot, _time.GetElapsedTime(last.At));
    }

    private Reading? Fresh(TimeSpan maxAge) => _last is { } last && _time.GetElapsedTime(last.At) <= maxAge ? last : null;

    public override void Dispose()
    {
        _reading.Dispose();
        base.Dispose();
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (_options.QueueMetricsInterval <= TimeSpan.Zero) return;
        using var timer = new PeriodicTimer(_options.QueueMetricsInterval, _time);
        do
        {
            try
            {
                await RefreshAsync(stoppingToken);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e)
            {
                ControllerLog.QueueStatsFailed(_logger, e);
            }
        } while (await WaitAsync(timer, stoppingToken));
    }

    private static async Task<bool> WaitAsync(PeriodicTimer timer, CancellationToken ct)
    {
        try { return await timer.WaitForNextTickAsync(ct); }
        catch (OperationCanceledException) { return false; }
    }

    private IEnumerable<Measurement<long>> ObserveDepth() =>
        _last?.Snapshot.Depths.Select(d => new Measurement<long>(d.Count,
            new KeyValuePair<string, object?>("tenant_id", d.TenantId.ToString()),
            new KeyValuePair<string, object?>("priority", d.Priority),
            new KeyValuePair<string, object?>("state", d.State))) ?? [];

    private IEnumerable<Measurement<double>> ObserveOldest()
    {
        if (_last is not { } last) return [];
        var since = _time.GetElapsedTime(last.At).TotalSeconds;
        return last.Snapshot.Oldest.Select(o => new Measurement<double>(o.AgeSeconds + since,
            new KeyValuePair<string, object?>("tenant_id", o.TenantId.ToString())));
    }

    private IEnumerable<Measurement<long>> ObserveDlq() =>
        _last?.Snapshot.Dlq.Select(d => new Measurement<long>(d.Count,
            new KeyValuePair<string, object?>("tenant_id", d.TenantId.ToString()))) ?? [];
}
