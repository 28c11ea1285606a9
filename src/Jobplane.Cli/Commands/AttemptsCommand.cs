using System.CommandLine;
using System.Globalization;
using Jobplane.Api;
using Jobplane.Cli.Output;

namespace Jobplane.Cli.Commands;

/// <summary>`attempts EXECUTION_ID`: every attempt of an execution, oldest first, as a table (or the JSON array).</summary>
internal static class AttemptsCommand
{
    public static Command Create(JobctlRuntime runtime)
    {
        var executionId = CliOptions.Id("EXECUTION_ID", "The execution whose attempts to list");
        var command = new Command("attempts", "List an execution's attempts: worker, start and end, exit code, outcome and error")
        {
            executionId,
        };
        command.SetAction(runtime.Action(async (context, parseResult, ct) =>
        {
            var attempts = await context.Api.GetAttemptsAsync(parseResult.GetValue(executionId), ct);
            return context.Write(attempts, (o, x) => Table(x).WriteTo(o, context.Color));
        }));
        return command;
    }

    /// <summary>The same table here and under `status`, so the two never disagree on columns.</summary>
    internal static TableWriter Table(IEnumerable<AttemptView> attempts)
    {
        var table = new TableWriter("ATTEMPT", "WORKER", "STARTED_AT", "ENDED_AT", "EXIT", "OUTCOME", "ERROR");
        foreach (var attempt in attempts)
        {
            table.AddRow(
                attempt.Attempt.ToString(CultureInfo.InvariantCulture),
                attempt.WorkerId,
                Display.Time(attempt.StartedAt),
                Display.Time(attempt.EndedAt),
                Display.Number(attempt.ExitCode),
                attempt.Outcome,
                Display.Truncate(attempt.Error, 60));
        }
        return table;
    }
}
