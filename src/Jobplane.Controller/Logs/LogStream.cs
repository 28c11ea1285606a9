using System.Text;
using Jobplane.Api;
using Jobplane.Store;

namespace Jobplane.Controller.Logs;

/// <summary>
/// How one kind of log stream spells its Server-Sent Events. The API's follow and the dashboard's
/// live log run the same loop (<see cref="LogStream"/>) and differ only here.
/// </summary>
public abstract class LogStreamFormat
{
    /// <summary>Called with the status read before each batch of lines (the dashboard reports changes; the API does not).</summary>
    public virtual void Status(StringBuilder events, string status) { }

    /// <summary>Appends one line's event, whose id must be the line's id (what Last-Event-ID resumes from).</summary>
    public abstract void Line(StringBuilder events, LogRecord line);

    /// <summary>The last event, once the execution has finished and every line was sent.</summary>
    public abstract string End(string status);

    /// <summary>The event sent when the stream's time (LOG_FOLLOW_MAX_DURATION) is up, or null to just close.</summary>
    public virtual string? TimeUp(long lastId) => null;
}

/// <summary>
/// Follows an execution's log as Server-Sent Events until it has finished and every line has been
/// sent. The status is read before each batch of lines: once it is terminal, the worker has shipped
/// every line, so the batch read after it is the last. Stateless: any replica can serve a follower,
/// and a follower that reconnects with Last-Event-ID resumes where it stopped.
/// <para>Between reads the follower waits for a notification about its execution (a log append or
/// the execution finishing, see <see cref="LogFollowers"/>), or at most LOG_FOLLOW_POLL_INTERVAL, so
/// an idle follower costs the database nothing but that slow safety read. A job flooding its log
/// notifies on every batch, so a follower reads at most every <see cref="MinReadInterval"/>: one
/// tenant's followers cost a bounded number of reads however fast lines arrive. After
/// LOG_FOLLOW_MAX_DURATION the stream closes, so no one stream (and its slot) is held forever.</para>
/// </summary>
public static class LogStream
{
    public const int BatchLines = 1000;
    public static readonly TimeSpan KeepAliveInterval = TimeSpan.FromSeconds(15);
    public static readonly TimeSpan MinReadInterval = TimeSpan.FromMilliseconds(100);

    /// <summary>Streams the log of <paramref name="executionId"/> (of <paramref name="tenantId"/>) after line <paramref name="afterId"/>.</summary>
    public static async Task FollowAsync(HttpResponse response, ExecutionStore store, LogFollowers followers, TimeProvider time,
        TenantLimitOptions limits, Guid tenantId, Guid executionId, long afterId, LogStreamFormat format, CancellationToken ct)
    {
        response.ContentType = "text/event-stream";
        response.Headers.CacheControl = "no-store";
        response.Headers["X-Accel-Buffering"] = "no";
        // Headers go out now, not with the first line: a client learns at once that its stream is
        // open (or, before this, refused), even for an execution that prints nothing for a while.
        await response.Body.FlushAsync(ct);
        var started = time.GetTimestamp();
        var lastWrite = time.GetUtcNow();
        var events = new StringBuilder();
        using var watch = followers.Watch(executionId);
        try
        {
            while (!ct.IsCancellationRequested)
            {
                // Taken before the reads: a notification that arrives while they run completes it.
                var notified = watch.Next;
                var status = await store.GetStatusAsync(tenantId, executionId, ct) ?? ExecutionStatus.Cancelled;
                format.Status(events, status);
                IReadOnlyList<LogRecord> page;
                do
                {
                    page = await store.ReadLogsAsync(executionId, afterId, BatchLines, ct);
                    foreach (var line in page)
                    {
                        format.Line(events, line);
                        afterId = line.Id;
                    }
                    if (events.Length > 0)
                    {
                        await WriteAsync(response, events.ToString(), ct);
                        events.Clear();
                        lastWrite = time.GetUtcNow();
                    }
                } while (page.Count == BatchLines);

                if (ExecutionStatus.IsTerminal(status))
                {
                    await WriteAsync(response, format.End(status), ct);
                    return;
                }
                var remaining = limits.LogFollowMaxDuration - time.GetElapsedTime(started);
                if (remaining <= TimeSpan.Zero)
                {
                    if (format.TimeUp(afterId) is { } timeUp) await WriteAsync(response, timeUp, ct);
                    return;
                }
                if (time.GetUtcNow() - lastWrite > KeepAliveInterval)
                {
                    await WriteAsync(response, ": keep-alive\n\n", ct);
                    lastWrite = time.GetUtcNow();
                }
                var wait = TimeSpan.FromTicks(Math.Min(Math.Min(limits.LogFollowPollInterval.Ticks, KeepAliveInterval.Ticks), remaining.Ticks));
                try
                {
                    await notified.WaitAsync(wait, time, ct);
                    await Task.Delay(MinReadInterval, time, ct);
                }
                catch (TimeoutException)
                {
                    // The safety read: a notification may have been lost.
                }
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            // The client went away or the controller is stopping: nothing to clean up.
        }
    }

    private static async Task WriteAsync(HttpResponse response, string text, CancellationToken ct)
    {
        await response.WriteAsync(text, ct);
        await response.Body.FlushAsync(ct);
    }
}
