using System.CommandLine;
using System.Globalization;
using Jobplane.Api;
using Jobplane.Cli.Output;

namespace Jobplane.Cli.Commands;

/// <summary>`jobs list` and `executions list`: paged listings of the tenant's jobs and executions.</summary>
internal static class ListCommands
{
    public static Command Jobs(JobctlRuntime runtime)
    {
        var (limit, offset) = CliOptions.Paging();
        var cursor = CliOptions.Cursor();
        var list = new Command("list", "List the tenant's jobs, newest first (a long command is shown cut; jobctl job get shows it whole); "
            + "when there are more, prints the command for the next page on stderr") { limit, offset, cursor };
        list.SetAction(runtime.Action(async (context, parseResult, ct) =>
        {
            var jobs = await context.Api.ListJobsAsync(parseResult.GetValue(limit), parseResult.GetValue(offset), parseResult.GetValue(cursor), ct);
            if (context.Json)
            {
                JsonOutput.WritePretty(context.Out, jobs.Raw);
                return JobctlRuntime.Ok;
            }
            // A RESOURCES column only when a listed job asks for something: most jobs take the worker's defaults.
            var asking = jobs.Value.Jobs.Any(j => j.Resources is not null || j.Network || j.RunAsRoot);
            string[] columns = ["ID", "NAME", "IMAGE", "COMMAND", "PRIORITY", "TIMEOUT", "MAX_ATTEMPTS", .. asking ? ["RESOURCES"] : Array.Empty<string>(), "CREATED_AT"];
            var table = new TableWriter(columns);
            foreach (var job in jobs.Value.Jobs)
            {
                string[] cells =
                [
                    job.Id.ToString(),
                    job.Name,
                    job.Image,
                    Display.Truncate(Display.Command(job.Command), 50),
                    job.Priority.ToString(),
                    job.DefaultTimeout.ToString(CultureInfo.InvariantCulture) + "s",
                    job.MaxAttempts.ToString(CultureInfo.InvariantCulture),
                    .. asking ? [Display.Resources(job.Resources, job.Network, job.RunAsRoot)] : Array.Empty<string>(),
                    Display.Time(job.CreatedAt),
                ];
                table.AddRow(cells);
            }
            table.WriteTo(context.Out, context.Color);
            CliOptions.MoreNote(context, jobs.Value.NextCursor, "jobs list", ("--limit", parseResult.GetValue(limit)));
            return JobctlRuntime.Ok;
        }));
        return new Command("jobs", "Job definitions") { list };
    }

    public static Command Executions(JobctlRuntime runtime)
    {
        var (limit, offset) = CliOptions.Paging();
        var status = CliOptions.Parsed<string?>("--status", "STATUS", "Only executions in this status (" + string.Join('|', ExecutionStatus.All) + ")",
            text => ExecutionStatus.Parse(text) is { } parsed
                ? parsed
                : CliOptions.Refuse($"--status must be one of {string.Join(", ", ExecutionStatus.All)} (got '{text}')"));
        var jobId = CliOptions.IdOption("--job-id", "Only executions of this job");
        var cursor = CliOptions.Cursor();
        var list = new Command("list", "List the tenant's executions, newest first; when there are more, prints the command for the next page on stderr")
        {
            status, jobId, limit, offset, cursor,
        };
        list.SetAction(runtime.Action(async (context, parseResult, ct) =>
        {
            var executions = await context.Api.ListExecutionsAsync(parseResult.GetValue(status), parseResult.GetValue(jobId),
                parseResult.GetValue(limit), parseResult.GetValue(offset), parseResult.GetValue(cursor), ct);
            if (context.Json)
            {
                JsonOutput.WritePretty(context.Out, executions.Raw);
                return JobctlRuntime.Ok;
            }
            // A DUE_AT column only when a listed execution waits for its time: when it will run is what one asks of it.
            var waiting = executions.Value.Executions.Any(e => Display.IsWaitingForTime(e.Status));
            string[] columns = ["ID", "JOB", "STATUS", "PRIORITY", "ATTEMPT", "CREATED_AT", .. waiting ? ["DUE_AT"] : Array.Empty<string>(), "EXIT", "ERROR"];
            var table = new TableWriter(columns);
            foreach (var execution in executions.Value.Executions)
            {
                string[] cells =
                [
                    execution.Id.ToString(),
                    execution.JobId.ToString(),
                    execution.Status,
                    execution.Priority.ToString(),
                    Display.Attempt(execution),
                    Display.Time(execution.CreatedAt),
                    .. waiting ? [Display.DueAt(execution)] : Array.Empty<string>(),
                    Display.Number(execution.ExitCode),
                    Display.Truncate(execution.Error, 60),
                ];
                table.AddRow(cells);
            }
            table.WriteTo(context.Out, context.Color);
            CliOptions.MoreNote(context, executions.Value.NextCursor, "executions list",
                ("--status", parseResult.GetValue(status)), ("--job-id", parseResult.GetValue(jobId)), ("--limit", parseResult.GetValue(limit)));
            return JobctlRuntime.Ok;
        }));
        return new Command("executions", "Executions of jobs") { list };
    }
}
