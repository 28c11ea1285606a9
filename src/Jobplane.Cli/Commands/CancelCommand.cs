using System.CommandLine;
using Jobplane.Api;
using Jobplane.Cli.Output;

namespace Jobplane.Cli.Commands;

/// <summary>`cancel EXECUTION_ID` or `cancel --job JOB_ID`: stop one execution, or every unfinished one of a job.</summary>
internal static class CancelCommand
{
    public static Command Create(JobctlRuntime runtime)
    {
        var executionId = CliOptions.OptionalId("EXECUTION_ID", "The execution to cancel");
        var jobId = CliOptions.IdOption("--job", "Cancel every unfinished execution of this job instead");
        jobId.Aliases.Add("--job-id");
        var command = new Command("cancel",
            "Cancel an execution, or with --job every unfinished execution of a job. One that has not started never runs; "
            + "a running one is stopped by its worker and ends CANCELLED within seconds")
        {
            executionId, jobId,
        };
        command.Validators.Add(result =>
        {
            var hasExecution = result.GetResult(executionId) is { Tokens.Count: > 0 };
            var hasJob = result.GetResult(jobId) is not null;
            if (hasExecution == hasJob)
                result.AddError(hasExecution
                    ? "give either EXECUTION_ID or --job JOB_ID, not both"
                    : "nothing to cancel: give EXECUTION_ID, or --job JOB_ID for all of a job's executions");
        });
        command.SetAction(runtime.Action(async (context, parseResult, ct) =>
        {
            if (parseResult.GetValue(jobId) is { } job)
            {
                var bulk = await context.Api.CancelJobAsync(job, ct);
                return context.Write(bulk, (o, x) => o.WriteLine($"cancelled {x.Cancelled}, stopping {x.Stopping}"));
            }

            var id = parseResult.GetValue(executionId)!.Value;
            var cancelled = await context.Api.CancelExecutionAsync(id, ct);
            return context.Write(cancelled, (o, x) => o.WriteLine(Describe(x)));
        }));
        return command;
    }

    internal static string Describe(CancelResponse response) =>
        response.Status == ExecutionStatus.Cancelled ? $"execution {response.ExecutionId}: {ExecutionStatus.Cancelled}"
        : response.CancelRequested ? $"execution {response.ExecutionId}: cancel requested; its worker is stopping it"
        : $"execution {response.ExecutionId}: {response.Status}";
}
