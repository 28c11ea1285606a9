using System.Diagnostics.Metrics;

namespace Jobplane.Worker.Observability;

/// <summary>The worker's own instruments, in one Meter named after the component (durations in seconds).</summary>
public sealed class WorkerMetrics
{
    public const string MeterName = "Jobplane.Worker";

    private static readonly double[] AttemptBuckets = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 14400];
    private static readonly double[] DequeueBuckets = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30];

    private readonly Histogram<double> _attemptDuration;
    private readonly Histogram<double> _dequeueDuration;
    private readonly Counter<long> _logBytes;
    private readonly Counter<long> _heartbeatFailures;
    private readonly Counter<long> _leasesLost;
    private readonly int _slots;
    private Func<int> _used = () => 0;

    public WorkerMetrics(IMeterFactory meters, WorkerOptions options)
    {
        _slots = options.Concurrency;
        var meter = meters.Create(MeterName);
        meter.CreateObservableGauge("jobplane.worker.slots", ObserveSlots, "{slot}", "Job slots of this worker, by state (used, free)");
        _attemptDuration = meter.CreateHistogram("jobplane.worker.attempt.duration", "s", "How long each attempt's job ran, by runtime and outcome",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = AttemptBuckets });
        _dequeueDuration = meter.CreateHistogram("jobplane.worker.dequeue.duration", "s",
            "One dequeue call (a long-poll: it waits up to WORKER_POLL_INTERVAL when there is no work), by whether it claimed any",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = DequeueBuckets });
        _logBytes = meter.CreateCounter<long>("jobplane.worker.logs.produced", "By", "Bytes (UTF-8) of job output handed to log shipping");
        _heartbeatFailures = meter.CreateCounter<long>("jobplane.worker.heartbeat.failures", "{call}", "Heartbeat calls that failed");
        _leasesLost = meter.CreateCounter<long>("jobplane.worker.leases.lost", "{attempt}", "Attempts killed because their lease was lost or could not be confirmed");
    }

    /// <summary>Where the used-slot count comes from (the agent's running attempts).</summary>
    public void ObserveSlotsUsed(Func<int> used) => _used = used;

    public void AttemptEnded(string runtime, string outcome, TimeSpan duration) =>
        _attemptDuration.Record(duration.TotalSeconds,
            new KeyValuePair<string, object?>("runtime", runtime), new KeyValuePair<string, object?>("outcome", outcome));

    public void Dequeued(TimeSpan duration, int claimed) =>
        _dequeueDuration.Record(duration.TotalSeconds, new KeyValuePair<string, object?>("claimed", claimed > 0));

    public void LogBytes(long n) => _logBytes.Add(n);

    public void HeartbeatFailed() => _heartbeatFailures.Add(1);

    public void LeaseLost() => _leasesLost.Add(1);

    private IEnumerable<Measurement<int>> ObserveSlots()
    {
        var used = Math.Min(_used(), _slots);
        return
        [
            new Measurement<int>(used, new KeyValuePair<string, object?>("state", "used")),
            new Measurement<int>(_slots - used, new KeyValuePair<string, object?>("state", "free")),
        ];
    }
}

/// <summary>Counts the bytes of job output passing to the log shipper.</summary>
internal sealed class CountingLogSink(Runtimes.ILogSink inner, WorkerMetrics metrics) : Runtimes.ILogSink
{
    public void Write(Runtimes.LogStream stream, string line)
    {
        metrics.LogBytes(System.Text.Encoding.UTF8.GetByteCount(line));
        inner.Write(stream, line);
    }
}
