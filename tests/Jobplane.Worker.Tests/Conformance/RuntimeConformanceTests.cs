using System.Diagnostics;
using System.Globalization;
using Jobplane.Worker.Runtimes;
using Jobplane.Worker.Tests.Exec;

namespace Jobplane.Worker.Tests.Conformance;

/// <summary>
/// What every runtime promises, checked the same way against each: a runtime is done when its
/// subclass passes. Jobs are written as POSIX shell scripts and programs that exist both on a
/// worker host and in the test image; the result file is written through $JOBPLANE_OUTPUT_DIR,
/// which every runtime sets. Each subclass is named for its runtime, so that every test's name
/// says which runtime it checked.
/// </summary>
public abstract class RuntimeConformanceTests : IAsyncLifetime
{
    private const string StartedThenSleeps = "echo started; sleep 600";
    private const string IgnoresTerm = "trap '' TERM; echo started; while true; do sleep 1; done";

    private IRuntimeUnderTest? _target;

    /// <summary>This runtime on a private work root, its kill grace period <paramref name="killGrace"/>.</summary>
    protected abstract IRuntimeUnderTest Create(TimeSpan killGrace);

    private IRuntimeUnderTest Target => _target ?? throw new InvalidOperationException("not initialized");

    public Task InitializeAsync()
    {
        _target = Create(TimeSpan.FromSeconds(1));
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        if (_target is not null) await _target.DisposeAsync();
    }

    private RunSpec Shell(string script, TimeSpan? timeout = null) => Target.Spec(["sh", "-c", script], timeout);

    private static async Task<(RunOutcome Outcome, CollectingLogSink Logs)> RunAsync(
        IRuntimeUnderTest target, RunSpec spec, CancellationToken stop = default)
    {
        var logs = new CollectingLogSink();
        var outcome = await target.Runtime.RunAsync(spec, logs, stop);
        return (outcome, logs);
    }

    private string FolderOf(RunSpec spec) =>
        Path.Combine(Target.WorkRoot, Target.WorkerId, string.Create(CultureInfo.InvariantCulture, $"{spec.ExecutionId:D}-{spec.Attempt}"));

    private async Task AssertNothingLeftAsync(RunSpec spec)
    {
        Assert.True(await Target.UnitGoneAsync(spec), "something of the attempt still runs");
        Assert.False(Directory.Exists(FolderOf(spec)), "the attempt folder is still there");
    }

    [Fact]
    public async Task A_successful_job_reports_its_output_per_stream_and_its_result_and_leaves_nothing_behind()
    {
        var spec = Shell("""echo working; echo oops >&2; printf '{"rows": 3}' > "$JOBPLANE_OUTPUT_DIR/result.json" """);

        var (outcome, logs) = await RunAsync(Target, spec);

        Assert.True(outcome.Succeeded, outcome.Error);
        Assert.Equal(0, outcome.ExitCode);
        Assert.Null(outcome.Error);
        Assert.False(outcome.TimedOut);
        Assert.False(outcome.Stopped);
        Assert.Equal(3, outcome.Result!.Value.GetProperty("rows").GetInt32());
        Assert.Equal(["working"], logs.Stdout);
        Assert.Equal(["oops"], logs.Stderr);
        await AssertNothingLeftAsync(spec);
    }

    [Fact]
    public async Task A_failing_exit_code_is_a_retryable_failure()
    {
        var (outcome, _) = await RunAsync(Target, Shell("exit 3"));

        Assert.False(outcome.Succeeded);
        Assert.Equal(3, outcome.ExitCode);
        Assert.Equal("exit code 3", outcome.Error);
        Assert.True(outcome.Retryable);
    }

    [Fact]
    public async Task A_job_killed_by_a_signal_says_so()
    {
        var (outcome, _) = await RunAsync(Target, Shell("kill -9 $$"));

        Assert.Equal(137, outcome.ExitCode);
        Assert.Equal("exit code 137: killed by signal 9 (SIGKILL)", outcome.Error);
        Assert.True(outcome.Retryable);
    }

    [Fact]
    public async Task A_missing_program_fails_the_attempt_and_names_the_program()
    {
        var spec = Target.Spec(["no-such-program", "arg"]);

        var (outcome, logs) = await RunAsync(Target, spec);

        Assert.False(outcome.Succeeded);
        // Refused before it starts (exec) or reported by the unit's own init (a container's exit 127).
        Assert.Contains("no-such-program", (outcome.Error ?? "") + logs.Text(LogStream.Stderr), StringComparison.Ordinal);
        await AssertNothingLeftAsync(spec);
    }

    [Fact]
    public async Task A_spec_no_runtime_can_run_is_refused_without_retry()
    {
        var (outcome, logs) = await RunAsync(Target, Target.Spec(["echo", "a\0b"]));

        Assert.Equal("command element 1 contains a NUL character", outcome.Error);
        Assert.False(outcome.Retryable);
        Assert.Null(outcome.ExitCode);
        Assert.Empty(logs.Stdout);
    }

    [Fact]
    public async Task A_timeout_terminates_the_job_and_leaves_nothing_behind()
    {
        var spec = Shell(StartedThenSleeps, timeout: TimeSpan.FromSeconds(2));

        var (outcome, logs) = await RunAsync(Target, spec);

        Assert.True(outcome.TimedOut);
        Assert.False(outcome.Stopped);
        Assert.Equal("timed out after 2s", outcome.Error);
        Assert.True(outcome.Retryable);
        Assert.Equal(["started"], logs.Stdout);
        // The shell died of the SIGTERM (a SIGKILL would read 137). Whether the runtime also saw the
        // end within this target's 1 s grace is timing on a loaded machine, not behaviour: the
        // patient target below shows a job that exits on SIGTERM waits for no grace at all.
        Assert.Equal(143, outcome.ExitCode);
        await AssertNothingLeftAsync(spec);
    }

    [Fact]
    public async Task A_fractional_timeout_is_kept_and_reported_as_such()
    {
        var clock = Stopwatch.StartNew();

        var (outcome, _) = await RunAsync(Target, Target.Spec(["sleep", "600"], timeout: TimeSpan.FromMilliseconds(1500)));

        Assert.True(outcome.TimedOut);
        Assert.Equal("timed out after 1.5s", outcome.Error);
        Assert.True(clock.Elapsed >= TimeSpan.FromSeconds(1.5), $"timed out after {clock.Elapsed}");
    }

    [Fact]
    public async Task A_timed_out_job_has_no_result()
    {
        var (outcome, _) = await RunAsync(Target, Shell(
            """echo '{"partial": true}' > "$JOBPLANE_OUTPUT_DIR/result.json"; sleep 600""", timeout: TimeSpan.FromSeconds(1)));

        Assert.True(outcome.TimedOut);
        Assert.Null(outcome.Result);
    }

    [Fact]
    public async Task A_job_that_ignores_SIGTERM_is_killed_after_the_grace_period()
    {
        var clock = Stopwatch.StartNew();
        var spec = Shell(IgnoresTerm, timeout: TimeSpan.FromSeconds(2));

        var (outcome, logs) = await RunAsync(Target, spec);

        Assert.True(outcome.TimedOut);
        Assert.Equal("timed out after 2s", outcome.Error);
        Assert.Equal(["started"], logs.Stdout);
        Assert.Equal(137, outcome.ExitCode);
        Assert.True(clock.Elapsed >= TimeSpan.FromSeconds(2.8), $"killed after {clock.Elapsed}, before the grace period was over");
        Assert.Contains(Target.LogMessages, m => m.Contains("still running 1s after SIGTERM; sending SIGKILL", StringComparison.Ordinal));
        await AssertNothingLeftAsync(spec);
    }

    [Fact]
    public async Task A_job_that_exits_on_SIGTERM_does_not_wait_for_the_grace_period()
    {
        await using var patient = Create(TimeSpan.FromSeconds(30));
        var clock = Stopwatch.StartNew();

        var (outcome, _) = await RunAsync(patient, patient.Spec(["sh", "-c", StartedThenSleeps], TimeSpan.FromSeconds(1)));

        Assert.True(outcome.TimedOut);
        Assert.Equal(143, outcome.ExitCode);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(15), $"took {clock.Elapsed}");
    }

    [Fact]
    public async Task Cancelling_the_stop_token_stops_the_job()
    {
        using var stop = new CancellationTokenSource();
        var spec = Shell(StartedThenSleeps, timeout: TimeSpan.FromMinutes(10));

        var outcome = await Target.Runtime.RunAsync(spec, new StopOnFirstLine(stop), stop.Token);

        Assert.True(outcome.Stopped);
        Assert.False(outcome.TimedOut);
        Assert.Equal("stopped by the worker", outcome.Error);
        Assert.True(outcome.Retryable);
        Assert.False(outcome.Succeeded);
        Assert.Equal(143, outcome.ExitCode);
        await AssertNothingLeftAsync(spec);
    }

    [Fact]
    public async Task A_lost_lease_kills_without_the_grace_period()
    {
        await using var patient = Create(TimeSpan.FromMinutes(10));
        using var stop = new CancellationTokenSource();
        using var kill = new CancellationTokenSource();
        var spec = patient.Spec(["sh", "-c", IgnoresTerm], TimeSpan.FromMinutes(10));
        var clock = Stopwatch.StartNew();

        var outcome = await patient.Runtime.RunAsync(spec, new StopOnFirstLine(stop, kill), stop.Token, kill.Token);

        Assert.True(outcome.Stopped);
        Assert.Equal(137, outcome.ExitCode);
        Assert.True(clock.Elapsed < TimeSpan.FromMinutes(1), $"took {clock.Elapsed}");
        Assert.Contains(patient.LogMessages, m => m.Contains("still running 0s after SIGTERM; sending SIGKILL", StringComparison.Ordinal));
        Assert.True(await patient.UnitGoneAsync(spec), "something of the attempt still runs");
    }

    [Fact]
    public async Task An_already_cancelled_stop_token_starts_nothing()
    {
        var spec = Shell("echo started");

        var (outcome, logs) = await RunAsync(Target, spec, new CancellationToken(canceled: true));

        Assert.True(outcome.Stopped);
        Assert.Null(outcome.ExitCode);
        Assert.Empty(logs.Stdout);
        Assert.False(Directory.Exists(FolderOf(spec)));
    }

    [Fact]
    public async Task A_hundred_thousand_lines_on_each_stream_are_all_read_to_the_end_in_order()
    {
        // Both streams written at the same time, so that neither may stall the other.
        var (outcome, logs) = await RunAsync(Target, Shell("seq 1 100000 & seq 100001 200000 >&2; wait"));

        Assert.True(outcome.Succeeded, outcome.Error);
        Assert.Equal(Enumerable.Range(1, 100000).Select(i => i.ToString(CultureInfo.InvariantCulture)), logs.Stdout);
        Assert.Equal(Enumerable.Range(100001, 100000).Select(i => i.ToString(CultureInfo.InvariantCulture)), logs.Stderr);
    }

    [Theory]
    [InlineData("""{ printf '"'; head -c 1100000 /dev/zero | tr '\0' a; printf '"'; } > "$JOBPLANE_OUTPUT_DIR/result.json" """,
        "result.json is 1100002 bytes, over the 1048576-byte limit")]
    [InlineData("""ln -s /etc/passwd "$JOBPLANE_OUTPUT_DIR/result.json" """, "result.json is a symbolic link; refusing to follow it")]
    [InlineData("""mkfifo "$JOBPLANE_OUTPUT_DIR/result.json" """, "result.json is a named pipe, not a regular file")]
    public async Task A_refused_result_fails_the_attempt_without_retry(string script, string error)
    {
        var spec = Shell(script);

        var (outcome, _) = await RunAsync(Target, spec);

        Assert.False(outcome.Succeeded);
        Assert.False(outcome.Retryable);
        Assert.Equal(0, outcome.ExitCode);
        Assert.Null(outcome.Result);
        Assert.Equal(error, outcome.Error);
        await AssertNothingLeftAsync(spec);
    }

    [Fact]
    public async Task Invalid_json_fails_the_attempt_and_a_failing_exit_code_is_named_too()
    {
        var (outcome, _) = await RunAsync(Target, Shell("""echo '{not json' > "$JOBPLANE_OUTPUT_DIR/result.json"; exit 1"""));

        Assert.False(outcome.Retryable);
        Assert.Equal(1, outcome.ExitCode);
        Assert.StartsWith("exit code 1; result.json is not valid JSON: ", outcome.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_failing_log_sink_is_a_worker_fault_and_the_job_does_not_survive_it()
    {
        var spec = Shell(StartedThenSleeps);

        var error = await Assert.ThrowsAsync<InvalidOperationException>(() =>
            Target.Runtime.RunAsync(spec, new ThrowingSink(), CancellationToken.None));

        Assert.Equal("the log sink failed while receiving job output", error.Message);
        Assert.IsType<IOException>(error.InnerException);
        await AssertNothingLeftAsync(spec);
    }

    [Fact]
    public async Task Orphan_cleanup_removes_this_workers_leftovers_and_nobody_elses()
    {
        // Another worker whose id starts with ours: matching must be exact.
        var otherId = Target.WorkerId + "-other";
        await using var mine = await Target.LeaveUnitAsync(Target.WorkerId);
        await using var theirs = await Target.LeaveUnitAsync(otherId);
        var myFolder = Directory.CreateDirectory(Path.Combine(Target.WorkRoot, Target.WorkerId, $"{Guid.NewGuid()}-1", "sub")).Parent!.FullName;
        File.WriteAllText(Path.Combine(myFolder, "result.json"), "{}");
        var theirFolder = Directory.CreateDirectory(Path.Combine(Target.WorkRoot, otherId, $"{Guid.NewGuid()}-1")).FullName;

        await Target.Runtime.CleanupOrphansAsync(CancellationToken.None);

        Assert.True(await mine.IsGoneAsync(), "this worker's leftover unit survived its start");
        Assert.False(await theirs.IsGoneAsync(), "another worker's unit was ended");
        Assert.False(Directory.Exists(myFolder));
        Assert.True(Directory.Exists(Path.Combine(Target.WorkRoot, Target.WorkerId)));
        Assert.True(Directory.Exists(theirFolder));
        Assert.Contains(Target.LogMessages, m => m.Contains(mine.LoggedAs, StringComparison.Ordinal));
        Assert.Contains(Target.LogMessages, m => m.Contains($"Removed leftover attempt folder {myFolder}", StringComparison.Ordinal));
    }

    private sealed class ThrowingSink : ILogSink
    {
        public void Write(LogStream stream, string line) => throw new IOException("log store unavailable");
    }
}
