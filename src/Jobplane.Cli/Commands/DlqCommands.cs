using System.CommandLine;
using System.Globalization;
using Jobplane.Cli.Output;

namespace Jobplane.Cli.Commands;

/// <summary>`dlq list`, `dlq retry` and `dlq purge`: executions that used up their attempts.</summary>
internal static class DlqCommands
{
    public static Command Create(JobctlRuntime runtime)
    {
        var dlq = new Command("dlq", "Inspect, retry and purge executions in the dead letter queue");
        dlq.Subcommands.Add(List(runtime));
        dlq.Subcommands.Add(Retry(runtime));
        dlq.Subcommands.Add(Purge(runtime));
        return dlq;
    }

    private static Command List(JobctlRuntime runtime)
    {
        var (limit, offset) = CliOptions.Paging();
        var cursor = CliOptions.Cursor();
        var command = new Command("list", "List DLQ entries, newest first; "
            + "when there are more, prints the command for the next page on stderr") { limit, offset, cursor };
        command.SetAction(runtime.Action(async (context, parseResult, ct) =>
        {
            var entries = await context.Api.ListDlqAsync(parseResult.GetValue(limit), parseResult.GetValue(offset), parseResult.GetValue(cursor), ct);
            // The list is a bare array (the contract's), so its cursor came in a header: say it in JSON mode too.
            var more = () => CliOptions.MoreNote(context, entries.NextCursor, "dlq list", ("--limit", parseResult.GetValue(limit)));
            if (context.Json)
            {
                JsonOutput.WritePretty(context.Out, entries.Raw);
                more();
                return JobctlRuntime.Ok;
            }
            var table = new TableWriter("ID", "EXECUTION", "JOB", "PRIORITY", "ATTEMPTS", "FAILED_AT", "ERROR");
            foreach (var entry in entries.Value)
            {
                table.AddRow(
                    entry.Id.ToString(),
                    entry.ExecutionId.ToString(),
                    entry.JobName,
                    entry.Priority.ToString(),
                    entry.Attempts.ToString(CultureInfo.InvariantCulture),
                    Display.Time(entry.FailedAt),
                    Display.Truncate(entry.ErrorMessage, 60));
            }
            table.WriteTo(context.Out, context.Color);
            more();
            return JobctlRuntime.Ok;
        }));
        return command;
    }

    private static Command Retry(JobctlRuntime runtime)
    {
        var id = CliOptions.OptionalId("ID", "The DLQ entry to retry: its id or its failed execution's id (ID or EXECUTION column of dlq list)");
        var all = new Option<bool>("--all") { Description = "Retry every DLQ entry (with --job-id: every entry of that job) instead of one" };
        var jobId = CliOptions.IdOption("--job-id", "With --all: only the entries of this job");
        var command = new Command("retry",
            "Retry a DLQ entry as a new execution; prints the new execution id. "
            + "With --all [--job-id ID]: retry them all; prints 'retried N', then the new execution ids one per line. "
            + "Give ID or --all, not both")
        {
            id, all, jobId,
        };
        command.Validators.Add(result =>
        {
            var hasId = result.GetResult(id) is { Tokens.Count: > 0 };
            var hasAll = CliOptions.ValidValue(result, all);
            if (hasId && hasAll)
                result.AddError("give either ID or --all, not both");
            else if (!hasId && !hasAll)
                result.AddError("nothing to retry: give ID, or --all for every entry");
            else if (hasId && result.GetResult(jobId) is not null)
                result.AddError("--job-id goes with --all (ID already names one entry)");
        });
        command.SetAction(runtime.Action(async (context, parseResult, ct) =>
        {
            if (parseResult.GetValue(all))
            {
                var bulk = await context.Api.RetryAllDlqAsync(parseResult.GetValue(jobId), ct);
                if (context.Json)
                {
                    JsonOutput.WritePretty(context.Out, bulk.Raw);
                    return JobctlRuntime.Ok;
                }
                context.Out.WriteLine($"retried {bulk.Value.Retried}");
                foreach (var newId in bulk.Value.NewExecutionIds)
                    context.Out.WriteLine(newId);
                return JobctlRuntime.Ok;
            }

            var retried = await context.Api.RetryDlqAsync(parseResult.GetValue(id)!.Value, ct);
            return context.Write(retried, (o, x) => o.WriteLine(x.NewExecutionId));
        }));
        return command;
    }

    private static Command Purge(JobctlRuntime runtime)
    {
        var jobId = CliOptions.IdOption("--job-id", "Only the entries of this job");
        var yes = new Option<bool>("--yes", "-y") { Description = "Confirm: purge deletes the dead letters and cannot be undone" };
        var command = new Command("purge",
            "Delete DLQ entries (all, or one job's) so they can no longer be retried; the executions' history stays. "
            + "Needs --yes; prints 'purged N'")
        {
            jobId, yes,
        };
        command.Validators.Add(result =>
        {
            if (!CliOptions.ValidValue(result, yes))
                result.AddError("dlq purge deletes dead letters (they can no longer be retried; this cannot be undone), "
                    + "so it needs --yes to confirm; nothing was sent");
        });
        command.SetAction(runtime.Action(async (context, parseResult, ct) =>
        {
            var purged = await context.Api.PurgeDlqAsync(parseResult.GetValue(jobId), ct);
            return context.Write(purged, (o, x) => o.WriteLine($"purged {x.Purged}"));
        }));
        return command;
    }
}
