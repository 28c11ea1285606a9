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
/// <para>It is the API's log follow (GET /executions/{id}/logs?follow=true, the same
/// <see cref="LogStream"/> loop) under the dashboard's session: woken by <see cref="LogFollowers"/>
/// notifications instead of polling, and counted
/// against the same per-tenant cap of followed streams (the execution's tenant's, also when the
/// administrator watches) and the same LOG_FOLLOW_MAX_DURATION, after which the stream closes and
/// the browser's EventSource reconnects from the last line it got.</para>
/// </summary>
public static class ExecutionLogStream
{
    public const string Route = "/ui/executions/{id}/stream";

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

        await LogStream.FollowAsync(http.Response, store, followers, time, options.TenantLimits, t.TenantId, executionId, afterId,
            new DashboardLogFormat(), ct);
        return Results.Empty;
    }

    /// <summary>
    /// The dashboard's events: 'status' whenever the status changes, 'line' with the stream and text,
    /// 'end'. When the stream's time is up it just closes: the browser's EventSource reconnects.
    /// </summary>
    private sealed class DashboardLogFormat : LogStreamFormat
    {
        private string? _sentStatus;

        public override void Status(StringBuilder events, string status)
        {
            if (status == _sentStatus) return;
            events.Append("event: status\ndata: ").Append(Json(w => w.WriteString("status", status))).Append("\n\n");
            _sentStatus = status;
        }

        public override void Line(StringBuilder events, LogRecord line) =>
            events.Append("id: ").Append(line.Id.ToString(System.Globalization.CultureInfo.InvariantCulture))
                .Append("\nevent: line\ndata: ")
                .Append(Json(w =>
                {
                    w.WriteString("stream", line.Stream ?? "stdout");
                    w.WriteString("text", line.Content);
                }))
                .Append("\n\n");

        public override string End(string status) => "event: end\ndata: " + Json(w => w.WriteString("status", status)) + "\n\n";
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

}
