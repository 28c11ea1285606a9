using System.Diagnostics.Metrics;

namespace Jobplane.Controller;

/// <summary>The controller's own instruments, in one Meter named after the component.</summary>
public sealed class ControllerMetrics
{
    public const string MeterName = "Jobplane.Controller";

    private readonly Counter<long> _submitted;
    private readonly Counter<long> _claimed;
    private readonly Counter<long> _completed;
    private readonly Counter<long> _logBytes;
    private readonly Histogram<double> _claimDuration;
    private readonly Counter<long> _rateLimited;

    public ControllerMetrics(IMeterFactory meters)
    {
        var meter = meters.Create(MeterName);
        _submitted = meter.CreateCounter<long>("jobplane.executions.submitted", "{execution}", "Executions created, by initial status");
        _claimed = meter.CreateCounter<long>("jobplane.executions.claimed", "{execution}", "Attempts started by workers");
        _completed = meter.CreateCounter<long>("jobplane.executions.completed", "{attempt}", "Attempt results accepted, by resulting status");
        _logBytes = meter.CreateCounter<long>("jobplane.logs.ingested", "By", "Log characters stored");
        _rateLimited = meter.CreateCounter<long>("jobplane.requests.rate_limited", "{request}", "Tenant requests refused with 429");
        _claimDuration = meter.CreateHistogram<double>("jobplane.queue.claim.duration", "s", "Time of one claim statement");
    }

    public void Submitted(string status, int count = 1) => _submitted.Add(count, new KeyValuePair<string, object?>("status", status));

    public void Completed(string status) => _completed.Add(1, new KeyValuePair<string, object?>("status", status));

    public void RateLimited() => _rateLimited.Add(1);

    public void LogBytes(long n) => _logBytes.Add(n);

    public void ClaimLatency(TimeSpan elapsed, int claimed)
    {
        _claimDuration.Record(elapsed.TotalSeconds);
        if (claimed > 0) _claimed.Add(claimed);
    }
}
