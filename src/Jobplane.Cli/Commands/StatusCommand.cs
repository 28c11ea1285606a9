using System.CommandLine;
using System.Globalization;
using Jobplane.Api;
using Jobplane.Cli.Output;

namespace Jobplane.Cli.Commands;

/// <summary>`status EXECUTION_ID`: one execution, as key: value lines (or the JSON body).</summary>
internal static class StatusCommand
{
    public static Command Create(JobctlRuntime runtime)
    {
        var executionId = CliOptions.Id("EXECUTION_ID", "The execution to show");
        var command = new Command("status", "Show an execution's status, result and attempts") { executionId };
        command.SetAction(runtime.Action(async (context, parseResult, ct) =>
        {
            var execution = await context.Api.GetExecutionAsync(parseResult.GetValue(executionId), ct);
            return context.Write(execution, (o, x) => Write(o, x, context.Color));
        }));
        return command;
    }

    internal static void Write(TextWriter writer, ExecutionView execution, bool color = false)
    {
        var fields = new List<(string Key, string Value)>
        {
            ("id", execution.Id.ToString()),
            ("job_id", execution.JobId.ToString()),
        };
        if (execution.JobName is not null)
            fields.Add(("job_name", execution.JobName));
        fields.AddRange(
        [
            ("status", execution.Status),
            ("priority", execution.Priority.ToString()),
            ("attempt", Display.Attempt(execution)),
        ]);
        // Only when it happened: attempts a draining worker gave back, which the limit does not count.
        if (execution.HandedBack > 0)
            fields.Add(("handed_back", execution.HandedBack.ToString(CultureInfo.InvariantCulture)));
        // Only for a run a schedule fired: which one, and the due time it fired for.
        if (execution.ScheduleId is { } scheduleId)
        {
            fields.Add(("schedule_id", scheduleId.ToString()));
            fields.Add(("schedule_due_at", Display.Time(execution.ScheduleDueAt)));
        }
        if (execution.TimeoutSeconds > 0)
            fields.Add(("timeout", execution.TimeoutSeconds.ToString(CultureInfo.InvariantCulture) + "s"));
        fields.AddRange(
        [
            ("created_at", Display.Time(execution.CreatedAt)),
            ("scheduled_at", Display.Time(execution.ScheduledAt)),
            ("started_at", Display.Time(execution.StartedAt)),
            ("completed_at", Display.Time(execution.CompletedAt)),
        ]);
        // Only when someone asked: a running execution with this set is being stopped by its worker.
        if (execution.CancelRequestedAt is { } cancelRequestedAt)
            fields.Add(("cancel_requested_at", Display.Time(cancelRequestedAt)));
        // Only while it waits for a worker that no connected one is: what it needs.
        if (execution.WaitingFor is { } waitingFor) fields.Add(("waiting_for", waitingFor));
        fields.AddRange(
        [
            ("exit_code", Display.Number(execution.ExitCode)),
            ("error", string.IsNullOrEmpty(execution.Error) ? "-" : execution.Error),
            ("result", execution.Result is { } result ? JsonOutput.ToCompactString(result) : "-"),
        ]);

        Display.Fields(writer, fields);

        if (execution.Attempts is { Count: > 0 } attempts)
        {
            writer.WriteLine();
            writer.WriteLine("attempts:");
            AttemptsCommand.Table(attempts).WriteTo(writer, color);
        }
    }
}
