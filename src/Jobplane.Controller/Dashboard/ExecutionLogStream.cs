using System.Text;
using System.Text.Json;
using Jobplane.Api;
using Jobplane.Controller.Logs;
using Jobplane.Store;
using Jobplane.Store.Dashboard;

namespace Jobplane.Controller.Dashboard;

/// <summary>
/// GET /ui/executions/{id}/stream: the execution page's live log, as Server-Sent Events for
/// dashboard.js. Events: <c>line</c> (id: the line's id; data {"stream", "text"}) for each line after
/// <c>?after=</c> (or Last-Event-ID, when the browser reconnects), <c>status</c> (data {"status"}) at
/// the start and whenever the status changes, and <c>end</c> (data {"status"}) once the execution has
/// finished and every line was sent.
/// <para>It is the API's log follow (GET /executions/{id}/logs?follow=true) under the dashboard's
/// session: woken by <see cref="LogFollowers"/> notifications instead of polling, and counted
/// against the same per-tenant cap of followed streams (the execution's tenant's, also when the
/// administrator watches) and the same LOG_FOLLOW_MAX_DURATION, after which the stream closes and
/// the browser's EventSource reconnects from the last line it got.</para>
/// </summary>
public static class ExecutionLogStream
{
    public const string Route = "/ui/executions/{id}/stream";

    private static readonly TimeSpan KeepAliveInterval = TimeSpan.FromSeconds(15);
    // As the API's follow: a job flooding its log notifies on every batch; read at most this often.
    private static readonly TimeSpan MinReadInterval = TimeSpan.FromMilliseconds(100);
    private const int BatchLines = 1000;

    public static void MapExecutionLogStream(this IEndpointRouteBuilder app) =>
        app.MapGet(Route, StreamAsync).ExcludeFromDescription();

    private static async Task<IResult> StreamAsync(string id, HttpContext http, DashboardSessions sessions, ExecutionQueries queries,
        ExecutionStore store, LogFollowers followers, ControllerOptions options, TimeProvider time, CancellationToken ct)
    {
        var viewer = await sessions.ResolveAsync(http, ct);
        if (viewer is null) return Results.StatusCode(StatusCodes.Status401Unauthorized);
        if (!Guid.TryParse(id, out var executionId)) return Results.NotFound();
        var target = await queries.FollowTargetAsync(viewer.Scope, executionId, ct);
        if (target is not { } t) return Results.NotFound();

        long afterId = 0;
        if (long.TryParse(http.Request.Query["after"].ToString(), System.Globalization.NumberStyles.None,
                System.Globalization.CultureInfo.InvariantCulture, out var after)) afterId = after;
        if (long.TryParse(http.Request.Headers["Last-Event-ID"].ToString(), System.Globalization.NumberStyles.None,
                System.Globalization.CultureInfo.InvariantCulture, out var resumed)) afterId = Math.Max(afterId, resumed);

        using var slot = followers.TryOpen(t.TenantId, t.LogFollowMax);
        if (slot is null) return Results.StatusCode(StatusCodes.Status429TooManyRequests);

        var response = http.Response;
        response.ContentType = "text/event-stream";
        response.Headers.CacheControl = "no-store";
        response.Headers["X-Accel-Buffering"] = "no";
        await response.Body.FlushAsync(ct);
        var limits = options.TenantLimits;
        var started = time.GetTimestamp();
        var lastWrite = time.GetUtcNow();
        string? sentStatus = null;
        using var watch = followers.Watch(executionId);
        try
        {
            while (!ct.IsCancellationRequested)
            {
                // Taken before the reads: a notification that arrives while they run completes it.
                var notified = watch.Next;
                // Read before the lines: once it is terminal the worker has shipped every line, so the lines read next are the last.
                var status = await store.GetStatusAsync(t.TenantId, executionId, ct) ?? ExecutionStatus.Cancelled;
                var text = new StringBuilder();
                if (status != sentStatus)
                {
                    text.Append("event: status\ndata: ").Append(Json(w => w.WriteString("status", status))).Append("\n\n");
                    sentStatus = status;
                }
                IReadOnlyList<LogRecord> page;
                do
                {
                    page = await store.ReadLogsAsync(executionId, afterId, BatchLines, ct);
                    foreach (var line in page)
                    {
                        text.Append("id: ").Append(line.Id.ToString(System.Globalization.CultureInfo.InvariantCulture))
                            .Append("\nevent: line\ndata: ")
                            .Append(Json(w =>
                            {
                                w.WriteString("stream", line.Stream ?? "stdout");
                                w.WriteString("text", line.Content);
                            }))
                            .Append("\n\n");
                        afterId = line.Id;
                    }
                    if (text.Length > 0)
                    {
                        await response.WriteAsync(text.ToString(), ct);
                        await response.Body.FlushAsync(ct);
                        text.Clear();
                        lastWrite = time.GetUtcNow();
                    }
                } while (page.Count == BatchLines);

                if (ExecutionStatus.IsTerminal(status))
                {
                    await response.WriteAsync("event: end\ndata: " + Json(w => w.WriteString("status", status)) + "\n\n", ct);
                    await response.Body.FlushAsync(ct);
                    return Results.Empty;
                }
                var remaining = limits.LogFollowMaxDuration - time.GetElapsedTime(started);
                // The stream's time is up: closing it frees its slot; the browser reconnects with Last-Event-ID.
                if (remaining <= TimeSpan.Zero) return Results.Empty;
                if (time.GetUtcNow() - lastWrite > KeepAliveInterval)
                {
                    await response.WriteAsync(": keep-alive\n\n", ct);
                    await response.Body.FlushAsync(ct);
                    lastWrite = time.GetUtcNow();
                }
                var wait = Min(Min(limits.LogFollowPollInterval, KeepAliveInterval), remaining);
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
            // The browser went away or the controller is stopping.
        }
        return Results.Empty;
    }

    private static string Json(Action<Utf8JsonWriter> write)
    {
        var buffer = new System.Buffers.ArrayBufferWriter<byte>();
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            write(w);
            w.WriteEndObject();
        }
        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    private static TimeSpan Min(TimeSpan a, TimeSpan b) => a < b ? a : b;
}
