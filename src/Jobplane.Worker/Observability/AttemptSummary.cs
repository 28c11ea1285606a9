using Jobplane.Worker.Runtimes;

namespace Jobplane.Worker.Observability;

/// <summary>
/// One Information line a minute about the attempts that ended, by outcome, in place of two lines
/// per attempt: at thousands of jobs a second, formatting and writing those cost the worker more
/// than running the jobs. The per-attempt lines are still there at Debug. Silent while none end.
/// </summary>
public sealed partial class AttemptSummary(ILogger logger, TimeProvider time)
{
    /// <summary>How often the line is written.</summary>
    public static readonly TimeSpan Period = TimeSpan.FromMinutes(1);

    private long _succeeded;
    private long _failed;
    private long _timedOut;
    private long _stopped;

    /// <summary>Counts one ended attempt under its outcome (as <see cref="WorkerTracing.Outcome"/> names it).</summary>
    public void Ended(RunOutcome outcome)
    {
        if (outcome.Succeeded) Interlocked.Increment(ref _succeeded);
        else if (outcome.TimedOut) Interlocked.Increment(ref _timedOut);
        else if (outcome.Stopped) Interlocked.Increment(ref _stopped);
        else Interlocked.Increment(ref _failed);
    }

    /// <summary>Writes the line every <see cref="Period"/> until stopped, and once more for what ended since the last one.</summary>
    public async Task RunAsync(Func<int> running, CancellationToken ct)
    {
        using var timer = new PeriodicTimer(Period, time);
        try
        {
            while (await timer.WaitForNextTickAsync(ct)) Flush(running());
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
        }
        Flush(running());
    }

    /// <summary>Writes the line for the attempts that ended since the last one; nothing when none did.</summary>
    public void Flush(int running)
    {
        var succeeded = Interlocked.Exchange(ref _succeeded, 0);
        var failed = Interlocked.Exchange(ref _failed, 0);
        var timedOut = Interlocked.Exchange(ref _timedOut, 0);
        var stopped = Interlocked.Exchange(ref _stopped, 0);
        var ended = succeeded + failed + timedOut + stopped;
        if (ended > 0) LogSummary(ended, succeeded, failed, timedOut, stopped, running);
    }

    [LoggerMessage(Level = LogLevel.Information,
        Message = "{Ended} attempts ended since the last summary: {Succeeded} succeeded, {Failed} failed, {TimedOut} timed out, {Stopped} stopped; {Running} running")]
    private partial void LogSummary(long ended, long succeeded, long failed, long timedOut, long stopped, int running);
}
