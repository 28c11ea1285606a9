using Jobplane.Observability;
using Jobplane.Worker.Observability;
using Jobplane.Worker.Runtimes;
using Jobplane.Worker.Tests.Exec;
using Microsoft.Extensions.Logging;

namespace Jobplane.Worker.Tests.Observability;

/// <summary>
/// What an operator reads about attempts now that a line per attempt is Debug: a summary of the
/// attempts that ended, and the scope every line about one attempt carries.
/// </summary>
public sealed class AttemptLoggingTests
{
    private const string TraceParentValue = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";

    [Fact]
    public void The_summary_counts_ended_attempts_by_outcome_and_is_silent_when_none_ended()
    {
        var logger = new ListLogger<AttemptSummary>();
        var summary = new AttemptSummary(logger, TimeProvider.System);
        summary.Flush(running: 3);
        Assert.Empty(logger.Entries);

        summary.Ended(new RunOutcome { ExitCode = 0 });
        summary.Ended(new RunOutcome { ExitCode = 0 });
        summary.Ended(new RunOutcome { ExitCode = 1, Error = "exit code 1" });
        summary.Ended(new RunOutcome { TimedOut = true, Error = "timed out after 1s" });
        summary.Ended(new RunOutcome { Stopped = true, Error = "stopped" });
        summary.Flush(running: 3);

        var line = Assert.Single(logger.Entries);
        Assert.Equal(LogLevel.Information, line.Level);
        Assert.Equal("5 attempts ended since the last summary: 2 succeeded, 1 failed, 1 timed out, 1 stopped; 3 running", line.Message);

        // Counted once: the next summary starts from zero.
        summary.Flush(running: 0);
        Assert.Single(logger.Entries);
    }

    [Fact]
    public void The_attempt_scope_carries_the_ids_and_the_trace_id_of_the_executions_traceparent()
    {
        var (execution, job, tenant) = (Guid.NewGuid(), Guid.NewGuid(), Guid.NewGuid());
        var scope = new ExecutionLogScope(execution, job, tenant, 2, TraceParentValue);

        Assert.Equal(
            [new("execution_id", execution), new("job_id", job), new("tenant_id", tenant), new("attempt", 2), new("trace_id", "0af7651916cd43dd8448eb211c80319c")],
            scope.ToList());
        Assert.Equal($"execution_id={execution} job_id={job} tenant_id={tenant} attempt=2 trace_id=0af7651916cd43dd8448eb211c80319c", scope.ToString());
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("00-00000000000000000000000000000000-b7ad6b7169203331-01")]
    [InlineData("00-0af7651916cd43dd8448eb211c80319c-0000000000000000-01")]
    [InlineData("00-0AF7651916CD43DD8448EB211C80319C-b7ad6b7169203331-01")]
    [InlineData("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01\nX=1")]
    [InlineData("00-0af7651916cd43dd8448eb211c80319c_b7ad6b7169203331-01")]
    public void A_missing_or_malformed_traceparent_adds_no_trace_id_and_reaches_no_job(string? traceParent)
    {
        Assert.False(TraceParent.IsWellFormed(traceParent));
        var scope = new ExecutionLogScope(Guid.NewGuid(), Guid.NewGuid(), Guid.NewGuid(), 1, traceParent);
        Assert.Equal(4, scope.Count);
        Assert.DoesNotContain(scope, f => f.Key == "trace_id");
        Assert.Empty(WorkerTracing.JobEnvironment(null, traceParent));
    }

    [Fact]
    public void Without_an_attempt_span_the_job_gets_the_executions_own_traceparent()
    {
        Assert.True(TraceParent.IsWellFormed(TraceParentValue));
        Assert.Equal(TraceParentValue, WorkerTracing.JobEnvironment(null, TraceParentValue)[TraceParent.EnvironmentVariable]);
    }
}
