using System.CommandLine;
using System.Globalization;
using Jobplane.Cli.Output;

namespace Jobplane.Cli.Commands;

/// <summary>`dlq list` and `dlq retry`: executions that used up their attempts.</summary>
internal static class DlqCommands
{
    public static Command Create(JobctlRuntime runtime)
    {
        var dlq = new Command("dlq", "Inspect and retry executions in the dead letter queue");
        dlq.Subcommands.Add(List(runtime));
        dlq.Subcommands.Add(Retry(runtime));
        return dlq;
    }

    private static Command List(JobctlRuntime runtime)
    {
        var limit = CliOptions.Int("--limit", "Entries per page", 1, "-l");
        // The contract gives dlq list `-o` for --offset. A local option wins over the recursive global
        // -o/--output here; JSON output is still available as --output json.
        var offset = CliOptions.Int("--offset", "Entries to skip. NOTE: here -o means --offset; use --output json for JSON", 0, "-o");
        var command = new Command("list", "List DLQ entries, newest first (here -o is --offset; use --output for the format)") { limit, offset };
        command.SetAction(runtime.Action(async (context, parseResult, ct) =>
        {
            var entries = await context.Api.ListDlqAsync(parseResult.GetValue(limit), parseResult.GetValue(offset), ct);
            if (context.Json)
            {
                JsonOutput.WritePretty(context.Out, entries.Raw);
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
            return JobctlRuntime.Ok;
        }));
        return command;
    }

    private static Command Retry(JobctlRuntime runtime)
    {
        var id = CliOptions.Id("ID", "The DLQ entry to retry: its id or its failed execution's id (ID or EXECUTION column of dlq list)");
        var command = new Command("retry", "Retry a DLQ entry as a new execution; prints the new execution id") { id };
        command.SetAction(runtime.Action(async (context, parseResult, ct) =>
        {
            var retried = await context.Api.RetryDlqAsync(parseResult.GetValue(id), ct);
            if (context.Json)
                JsonOutput.WritePretty(context.Out, retried.Raw);
            else
                context.Out.WriteLine(retried.Value.NewExecutionId);
            return JobctlRuntime.Ok;
        }));
        return command;
    }
}
