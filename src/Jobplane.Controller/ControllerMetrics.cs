using System.Diagnostics.Metrics;
using System.Text;

namespace Jobplane.Controller;

/// <summary>
/// The controller's own instruments, in one Meter named after the component. Names and units follow
/// the OpenTelemetry conventions (durations in seconds); the README lists them with their
/// Prometheus names. The queue gauges live in <see cref="Observability.QueueGauges"/>.
/// </summary>
public sealed class ControllerMetrics
{
    public const string MeterName = "Jobplane.Controller";

    // Bucket boundaries in seconds, chosen per instrument: a claim takes milliseconds, a job minutes.
    private static readonly double[] ClaimBuckets = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];
    private static readonly double[] PickupBuckets = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600];
    private static readonly double[] ExecutionBuckets = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 14400];

    private readonly Counter<long> _submitted;
    private readonly Counter<long> _claimed;
    private readonly Counter<long> _completed;
    private readonly Counter<long> _retries;
    private readonly Counter<long> _rescued;
    private readonly Counter<long> _logBytes;
    private readonly Histogram<double> _claimDuration;
    private readonly Histogram<double> _pickup;
    private readonly Histogram<double> _executionDuration;
    private readonly Counter<long> _rateLimited;
    private readonly Counter<long> _scheduleFires;
    private readonly Counter<long> _scheduleMissed;
    private readonly Histogram<double> _scheduleLateness;

    public ControllerMetrics(IMeterFactory meters)
    {
        var meter = meters.Create(MeterName);
        Meter = meter;
        _submitted = meter.CreateCounter<long>("jobplane.executions.submitted", "{execution}", "Executions created, by initial status");
        _claimed = meter.CreateCounter<long>("jobplane.executions.claimed", "{execution}", "Attempts started by workers");
        _completed = meter.CreateCounter<long>("jobplane.executions.completed", "{attempt}", "Attempt results accepted, by resulting status");
        _retries = meter.CreateCounter<long>("jobplane.executions.retries", "{attempt}", "Failed attempts that will be retried after a backoff");
        _rescued = meter.CreateCounter<long>("jobplane.leases.rescued", "{execution}", "Executions whose lease expired (worker gone or stalled) and were rescued");
        _logBytes = meter.CreateCounter<long>("jobplane.logs.ingested", "By", "Log bytes (UTF-8) stored");
        _rateLimited = meter.CreateCounter<long>("jobplane.requests.rate_limited", "{request}", "Tenant requests refused with 429, by tenant");
        _scheduleFires = meter.CreateCounter<long>("jobplane.schedules.fires", "{fire}",
            "Due times of recurring schedules handled, by outcome (fired, skipped, queued)");
        _scheduleMissed = meter.CreateCounter<long>("jobplane.schedules.missed", "{due_time}",
            "Due times that passed while nothing could fire them and their misfire policy skipped");
        _scheduleLateness = meter.CreateHistogram("jobplane.schedules.lateness", "s",
            "From a schedule's due time to the commit of its execution, when workers can claim it (due times fired on time)",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = ClaimBuckets });
        _claimDuration = meter.CreateHistogram("jobplane.queue.claim.duration", "s", "Time of one claim statement",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = ClaimBuckets });
        _pickup = meter.CreateHistogram("jobplane.queue.pickup.duration", "s",
            "From an execution becoming due (submitted, scheduled time, retry time) to a worker claiming it",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = PickupBuckets });
        _executionDuration = meter.CreateHistogram("jobplane.execution.duration", "s",
            "How long one attempt's job ran, as its worker measured it, by runtime and outcome",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = ExecutionBuckets });
    }

    /// <summary>The controller's Meter, for instruments defined elsewhere in the controller.</summary>
    public Meter Meter { get; }

    public void Submitted(string status, int count = 1) => _submitted.Add(count, new KeyValuePair<string, object?>("status", status));

    public void Completed(string status) => _completed.Add(1, new KeyValuePair<string, object?>("status", status));

    /// <summary>One accepted attempt result: its outcome (the status it led to), runtime and duration when the worker sent them.</summary>
    public void AttemptFinished(string status, string? runtime, double? durationSeconds)
    {
        if (status == Api.ExecutionStatus.Retrying) _retries.Add(1);
        if (durationSeconds is { } d && double.IsFinite(d) && d >= 0)
        {
            _executionDuration.Record(d,
                new KeyValuePair<string, object?>("runtime", runtime is { } r && Api.Runtimes.IsKnown(r) ? r : "unknown"),
                new KeyValuePair<string, object?>("outcome", status.ToLowerInvariant()));
        }
    }

    public void RateLimited() => _rateLimited.Add(1);

    public void RateLimited(Guid tenantId) => _rateLimited.Add(1, new KeyValuePair<string, object?>("tenant_id", tenantId));

    public void LogBytes(long n) => _logBytes.Add(n);

    public void LogBytes(IEnumerable<Api.LogLine> lines) => _logBytes.Add(lines.Sum(l => (long)Encoding.UTF8.GetByteCount(l.Content)));

    public void LeasesRescued(int n)
    {
        if (n > 0) _rescued.Add(n);
    }

    public void Pickup(double seconds) => _pickup.Record(Math.Max(0, seconds));

    public void ClaimLatency(TimeSpan elapsed, int claimed)
    {
        _claimDuration.Record(elapsed.TotalSeconds);
        if (claimed > 0) _claimed.Add(claimed);
    }

    /// <summary>One firing pass: its outcomes, missed due times, and the lateness of each on-time fire.</summary>
    public void SchedulesFired(Store.Schedules.FireReport report)
    {
        if (report.Fired > 0) _scheduleFires.Add(report.Fired, new KeyValuePair<string, object?>("outcome", "fired"));
        if (report.Skipped > 0) _scheduleFires.Add(report.Skipped, new KeyValuePair<string, object?>("outcome", "skipped"));
        if (report.Queued > 0) _scheduleFires.Add(report.Queued, new KeyValuePair<string, object?>("outcome", "queued"));
        if (report.MissedDueTimes > 0) _scheduleMissed.Add(report.MissedDueTimes);
        foreach (var late in report.OnTimeLateness) _scheduleLateness.Record(Math.Max(0, late.TotalSeconds));
        if (report.Fired > 0) _submitted.Add(report.Fired, new KeyValuePair<string, object?>("status", Api.ExecutionStatus.Pending));
    }
}
