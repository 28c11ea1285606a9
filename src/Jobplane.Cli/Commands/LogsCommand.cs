using System.CommandLine;
using System.Globalization;
using Jobplane.Api;
using Jobplane.Cli.Output;
using Jobplane.Client;

namespace Jobplane.Cli.Commands;

/// <summary>`logs EXECUTION_ID [-f]`: print an execution's log, or follow it until the execution ends.</summary>
internal static class LogsCommand
{
    private const int PageSize = 1000;
    private static readonly TimeSpan ReconnectDelay = TimeSpan.FromSeconds(1);

    public static Command Create(JobctlRuntime runtime)
    {
        var executionId = CliOptions.Id("EXECUTION_ID", "The execution whose log to print");
        var follow = new Option<bool>("--follow", "-f") { Description = "Keep printing new lines; exit when the execution ends" };
        var afterId = CliOptions.Long("--after-id", "Only lines with an id greater than this", 0);
        var command = new Command("logs", "Print an execution's log lines (content only; -o json: one JSON object per line)")
        {
            executionId, follow, afterId,
        };
        command.SetAction(runtime.Action((context, parseResult, ct) =>
        {
            var id = parseResult.GetValue(executionId);
            var after = parseResult.GetValue(afterId) ?? 0;
            return parseResult.GetValue(follow) ? FollowAsync(context, id, after, ct) : PageAsync(context, id, after, ct);
        }));
        return command;
    }

    private static async Task<int> PageAsync(CommandContext context, Guid executionId, long afterId, CancellationToken ct)
    {
        while (true)
        {
            var page = await context.Api.GetLogsAsync(executionId, afterId, PageSize, ct);
            var logs = page.Value.Logs;
            if (logs.Count == 0)
                return JobctlRuntime.Ok;

            var raw = page.Raw.GetProperty("logs").EnumerateArray().ToList();
            for (var i = 0; i < logs.Count; i++)
                Print(context, logs[i], raw[i]);

            var last = logs.Max(l => l.Id);
            // A page that does not move the cursor would repeat forever.
            if (last <= afterId)
                throw new UnexpectedResponseException($"log page after id {afterId} did not advance (last id {last})");
            afterId = last;
        }
    }

    /// <summary>
    /// Reads the event stream to its end event. A connection that drops early is resumed from the last id
    /// seen; a second drop in a row with nothing received between is reported as a failure (exit 1),
    /// because "the log ended" must never be claimed when it did not. A stream the controller ends on
    /// its time limit (a 'reconnect' event) is resumed at once and silently, after the last id printed:
    /// nothing is lost or printed twice, and it is not a failure.
    /// </summary>
    private static async Task<int> FollowAsync(CommandContext context, Guid executionId, long afterId, CancellationToken ct)
    {
        var retried = false;
        while (true)
        {
            var progressed = false;
            var reconnect = false;
            string reason;
            try
            {
                await foreach (var item in context.Api.FollowLogsAsync(executionId, afterId, ct))
                {
                    if (item.End is not null)
                        return JobctlRuntime.Ok;
                    if (item.Reconnect is not null)
                    {
                        reconnect = true;
                        break;
                    }
                    Print(context, item.Entry!, item.RawEntry!.Value);
                    afterId = Math.Max(afterId, item.Entry!.Id);
                    progressed = true;
                }
                if (reconnect)
                {
                    retried = false;
                    continue;
                }
                reason = "the controller closed the stream without an end event";
            }
            catch (Exception e) when (e is IOException or HttpRequestException && !ct.IsCancellationRequested)
            {
                reason = e.Message;
            }

            if (retried && !progressed)
                throw new UnexpectedResponseException($"log stream of execution {executionId} broke off before the execution ended: {reason}");
            retried = true;
            context.Err.WriteLine($"jobctl: log stream interrupted ({reason}); resuming after id {afterId.ToString(CultureInfo.InvariantCulture)}");
            await Task.Delay(ReconnectDelay, ct);
        }
    }

    private static void Print(CommandContext context, LogEntry entry, System.Text.Json.JsonElement raw)
    {
        if (context.Json)
        {
            JsonOutput.WriteLine(context.Out, raw);
            return;
        }
        // Lines usually arrive without their newline; a chunk that has one must not get a blank line after it.
        var content = entry.Content;
        if (content.EndsWith('\n'))
            context.Out.Write(content);
        else
            context.Out.WriteLine(content);
    }
}
