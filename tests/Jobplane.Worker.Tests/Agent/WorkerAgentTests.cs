using System.Net;
using System.Net.Http.Json;
using Jobplane.Api;
using Jobplane.Store;
using Jobplane.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace Jobplane.Worker.Tests.Agent;

/// <summary>
/// The worker agent with the real exec runtime against the real controller (in-process) and a
/// real PostgreSQL database: claim, run, ship logs, report, retry, cancel, lose a lease.
/// </summary>
public sealed class WorkerAgentTests : IAsyncLifetime
{
    private readonly ControllerHost _host = new();
    private AgentHarness _agent = null!;

    public async Task InitializeAsync()
    {
        await _host.InitializeAsync();
        _agent = await AgentHarness.StartAsync(_host);
    }

    public async Task DisposeAsync()
    {
        await _agent.DisposeAsync();
        await _host.DisposeAsync();
    }

    [Fact]
    public async Task Runs_a_job_ships_every_log_line_in_order_and_stores_its_result()
    {
        var id = await _agent.SubmitAsync("counter", ["sh", "-c", "i=1; while [ $i -le 3000 ]; do echo line $i; i=$((i+1)); done; echo oops >&2; echo '{\"count\": 3000}' > result.json"]);

        var done = await _agent.WaitForAsync(id, e => ExecutionStatus.IsTerminal(e.Status));
        Assert.Equal(ExecutionStatus.Succeeded, done.Status);
        Assert.Equal(0, done.ExitCode);
        Assert.Equal(3000, done.Result!.Value.GetProperty("count").GetInt32());

        var logs = await _agent.AllLogsAsync(id);
        var stdout = logs.Where(l => l.Stream == "stdout").Select(l => l.Content).ToList();
        Assert.Equal(Enumerable.Range(1, 3000).Select(i => $"line {i}"), stdout);
        Assert.Contains(logs, l => l.Stream == "stderr" && l.Content == "oops");
    }

    [Fact]
    public async Task A_failing_job_is_retried_then_dead_lettered_and_never_shows_running_while_waiting()
    {
        var id = await _agent.SubmitAsync("always-fails", ["sh", "-c", "echo \"attempt $JOBPLANE_ATTEMPT\"; exit 7"], maxAttempts: 3);
        var failed = await _agent.WaitForAsync(id, e => e.Status == ExecutionStatus.Failed);
        Assert.Equal(3, failed.Attempt);
        Assert.Equal("exit code 7", failed.Error);
        Assert.Equal(3, failed.Attempts!.Count);
        Assert.All(failed.Attempts, a => Assert.Equal("failed", a.Outcome));

        var dlq = (await _agent.Tenant.GetFromJsonAsync(Routes.DeadLetters, JobplaneJsonContext.Default.IReadOnlyListDlqEntry))!;
        var entry = Assert.Single(dlq);
        Assert.Equal(id, entry.ExecutionId);
        Assert.Equal(3, entry.Attempts);

        var logs = await _agent.AllLogsAsync(id);
        Assert.Equal(["attempt 1", "attempt 2", "attempt 3"], logs.Select(l => l.Content));
    }

    [Fact]
    public async Task A_result_the_database_cannot_store_fails_the_execution_instead_of_wedging_it()
    {
        // Valid JSON that jsonb refuses (a NUL character): the report is refused, then re-sent without it.
        var id = await _agent.SubmitAsync("nul-result", ["sh", "-c", "printf '{\"a\": \"x\\\\u0000y\"}' > result.json"], maxAttempts: 3);
        var failed = await _agent.WaitForAsync(id, e => e.Status == ExecutionStatus.Failed);
        Assert.Equal(1, failed.Attempt);
        Assert.Null(failed.Result);
        Assert.Contains("result.json refused by the controller", failed.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_error_text_whose_cut_would_split_a_surrogate_pair_still_fails_the_execution_quickly()
    {
        // Issue 12: "cannot start '/aaaa…😀': …" is cut at 8192 characters, which used to fall
        // between the halves of the emoji; the lone half could not be stored, the report was
        // answered 500 and retried forever while heartbeats kept the execution RUNNING.
        var path = "/" + new string('a', 8176) + "\U0001F600";
        var id = await _agent.SubmitAsync("poison", [path], maxAttempts: 1);
        var failed = await _agent.WaitForAsync(id, e => ExecutionStatus.IsTerminal(e.Status), seconds: 15);
        Assert.Equal(ExecutionStatus.Failed, failed.Status);
        Assert.Contains("aaaa", failed.Error, StringComparison.Ordinal);
        Assert.True(StorableText.IsStorable(failed.Error!), "the stored error has a lone surrogate or NUL");
        Assert.True(failed.Error!.Length <= 8192, $"error of {failed.Error.Length} characters");
        Assert.EndsWith(StorableText.CutMarker, failed.Error, StringComparison.Ordinal); // the cut was made, on a boundary
        Assert.Equal(0, _agent.RunningCount);
    }

    [Fact]
    public async Task A_refused_report_is_sent_again_as_a_plain_failure_and_the_execution_ends_failed()
    {
        // A controller that refuses the job's own report (as one would a report it cannot store).
        _agent.Network.Answer = (request, body) =>
            NetworkSwitch.IsReport(request) && !body.Contains("the controller refused the report", StringComparison.Ordinal)
                ? NetworkSwitch.Error(HttpStatusCode.BadRequest, ErrorCodes.UnstorableText, "the report has text that cannot be stored")
                : null;
        var id = await _agent.SubmitAsync("refused", ["sh", "-c", "exit 3"], maxAttempts: 3);
        var failed = await _agent.WaitForAsync(id, e => ExecutionStatus.IsTerminal(e.Status), seconds: 15);
        Assert.Equal(ExecutionStatus.Failed, failed.Status);
        Assert.Equal(1, failed.Attempt); // not retryable: the same report would be refused again
        Assert.StartsWith("the controller refused the report: the report has text that cannot be stored", failed.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_cancel_ends_the_retrying_of_a_report_the_controller_keeps_failing()
    {
        _agent.Network.Answer = (request, _) => NetworkSwitch.IsReport(request)
            ? NetworkSwitch.Error(HttpStatusCode.InternalServerError, ErrorCodes.Internal, "internal error")
            : null;
        var id = await _agent.SubmitAsync("unreportable", ["true"], maxAttempts: 1);
        // The job ends at once; its report keeps failing, so the worker still holds the attempt.
        await Task.Delay(TimeSpan.FromSeconds(0.6)); // well inside the report's own retry budget (8 tries, at least 1.4 s)
        Assert.Equal(1, _agent.RunningCount);
        Assert.Equal(ExecutionStatus.Running, (await _agent.WaitForAsync(id, _ => true)).Status);

        var cancel = await _agent.Tenant.PostAsync(Routes.Of(Routes.ExecutionCancel, id), null);
        Assert.True(cancel.IsSuccessStatusCode, await cancel.Content.ReadAsStringAsync());
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (_agent.RunningCount > 0 && clock.Elapsed < TimeSpan.FromSeconds(10)) await Task.Delay(50);
        Assert.Equal(0, _agent.RunningCount);
    }

    [Fact]
    public async Task A_timed_out_job_fails_with_a_clear_error()
    {
        var id = await _agent.SubmitAsync("too-slow", ["sleep", "600"], maxAttempts: 1, timeout: 1);
        var failed = await _agent.WaitForAsync(id, e => e.Status == ExecutionStatus.Failed);
        Assert.Equal("timed out after 1s", failed.Error);
    }

    [Fact]
    public async Task Cancelling_a_running_job_stops_it_and_ends_the_execution_cancelled()
    {
        var id = await _agent.SubmitAsync("long-sleep", ["sh", "-c", "echo pid $$; exec sleep 600"], maxAttempts: 3);
        await _agent.WaitForAsync(id, e => e.Status == ExecutionStatus.Running);
        var pid = await _agent.JobPidAsync(id);

        var cancel = await _agent.Tenant.PostAsync(Routes.Of(Routes.ExecutionCancel, id), null);
        cancel.EnsureSuccessStatusCode();
        var answer = (await cancel.Content.ReadFromJsonAsync(JobplaneJsonContext.Default.CancelResponse))!;
        Assert.True(answer.CancelRequested);

        var done = await _agent.WaitForAsync(id, e => ExecutionStatus.IsTerminal(e.Status));
        Assert.Equal(ExecutionStatus.Cancelled, done.Status);
        Assert.Equal("cancelled", Assert.Single(done.Attempts!).Outcome);
        Assert.True(await AgentHarness.GoneWithinAsync(pid, TimeSpan.FromSeconds(5)), "the cancelled job kept running");
        Assert.Empty((await _agent.Tenant.GetFromJsonAsync(Routes.DeadLetters, JobplaneJsonContext.Default.IReadOnlyListDlqEntry))!);
    }

    [Fact]
    public async Task A_worker_told_its_lease_is_lost_kills_the_job_at_once()
    {
        var id = await _agent.SubmitAsync("zombie-candidate", ["sh", "-c", "trap '' TERM; echo pid $$; sleep 600 & wait"], maxAttempts: 1);
        await _agent.WaitForAsync(id, e => e.Status == ExecutionStatus.Running);
        var pid = await _agent.JobPidAsync(id);

        // The controller decides the lease is gone (as if heartbeats had stopped arriving in time).
        await _host.Database.ScalarAsync<int>("update executions set lease_expires_at = now() - interval '1 second' where id = $1 returning 1", id);
        await _host.Services.GetRequiredService<QueueStore>().RescueExpiredAsync(100, CancellationToken.None);

        // The next heartbeat learns the lease is lost and the worker kills the job: no grace period
        // (the job ignores SIGTERM, and the grace period alone would keep it alive for a while).
        Assert.True(await AgentHarness.GoneWithinAsync(pid, TimeSpan.FromSeconds(10)), "the job of a lost lease kept running");

        var view = await _agent.WaitForAsync(id, e => e.Status == ExecutionStatus.Failed);
        Assert.Equal("lease_expired", view.Attempts![0].Outcome);
        Assert.Contains("lease expired", view.Error, StringComparison.Ordinal);
    }
}
