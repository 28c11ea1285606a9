namespace Jobplane.Worker.Tests.Docker;

/// <summary>Timeouts, stops, kills and memory limits on real containers, and that the container is always removed.</summary>
public sealed class DockerRuntimeTerminationTests : IAsyncLifetime
{
    private readonly DockerHarness _docker = new();

    public Task InitializeAsync() => Task.CompletedTask;

    public Task DisposeAsync() => _docker.DisposeAsync().AsTask();

    [Fact]
    public async Task A_timeout_stops_the_container_and_removes_it()
    {
        var spec = DockerHarness.Shell("echo started; sleep 600", timeout: TimeSpan.FromSeconds(2));

        var (outcome, logs) = await _docker.RunAsync(spec);

        Assert.True(outcome.TimedOut);
        Assert.False(outcome.Stopped);
        Assert.Equal("timed out after 2s", outcome.Error);
        Assert.True(outcome.Retryable);
        Assert.False(outcome.Succeeded);
        Assert.Equal(["started"], logs.Stdout);
        // The container's init passed SIGTERM on and the shell died of it (a SIGKILL would read 137).
        Assert.Equal(143, outcome.ExitCode);
        Assert.Equal(0, await DockerHarness.ContainersOfAsync(spec));
        Assert.False(Directory.Exists(_docker.OutputFolderOf(spec)));
    }

    [Fact]
    public async Task A_job_that_ignores_SIGTERM_is_killed_after_the_grace_period()
    {
        // Long enough for the trap to be set before the timeout, even on a loaded machine.
        var spec = DockerHarness.Shell("trap '' TERM; echo started; while true; do sleep 1; done", timeout: TimeSpan.FromSeconds(2));

        var (outcome, logs) = await _docker.RunAsync(spec);

        Assert.True(outcome.TimedOut);
        Assert.Equal("timed out after 2s", outcome.Error);
        Assert.Equal(["started"], logs.Stdout);
        Assert.Equal(137, outcome.ExitCode);
        Assert.Contains(_docker.Logger.Entries, e => e.Message.Contains("still running 1s after SIGTERM; sending SIGKILL", StringComparison.Ordinal));
        Assert.Equal(0, await DockerHarness.ContainersOfAsync(spec));
    }

    [Fact]
    public async Task Cancelling_the_stop_token_stops_the_job()
    {
        using var stop = new CancellationTokenSource();
        var spec = DockerHarness.Shell("echo started; sleep 600", timeout: TimeSpan.FromMinutes(10));
        var sink = new StopOnFirstLine(stop);

        var outcome = await _docker.Runtime.RunAsync(spec, sink, stop.Token);

        Assert.True(outcome.Stopped);
        Assert.False(outcome.TimedOut);
        Assert.Equal("stopped by the worker", outcome.Error);
        Assert.True(outcome.Retryable);
        Assert.False(outcome.Succeeded);
        Assert.Equal(143, outcome.ExitCode);
        Assert.Equal(0, await DockerHarness.ContainersOfAsync(spec));
    }

    [Fact]
    public async Task A_kill_skips_the_grace_period()
    {
        await using var patient = new DockerHarness(o => o with { KillGrace = TimeSpan.FromMinutes(10) });
        using var stop = new CancellationTokenSource();
        using var kill = new CancellationTokenSource();
        var spec = DockerHarness.Shell("trap '' TERM; echo started; while true; do sleep 1; done", timeout: TimeSpan.FromMinutes(10));
        // The lease is lost: the worker stops and kills at once.
        var sink = new StopOnFirstLine(stop, kill);

        var outcome = await patient.Runtime.RunAsync(spec, sink, stop.Token, kill.Token);

        Assert.True(outcome.Stopped);
        Assert.Equal(137, outcome.ExitCode);
        Assert.Contains(patient.Logger.Entries, e => e.Message.Contains("still running 0s after SIGTERM; sending SIGKILL", StringComparison.Ordinal));
        Assert.Equal(0, await DockerHarness.ContainersOfAsync(spec));
    }

    [Fact]
    public async Task An_already_cancelled_stop_token_starts_nothing()
    {
        var spec = DockerHarness.Shell("echo started");

        var (outcome, logs) = await _docker.RunAsync(spec, new CancellationToken(canceled: true));

        Assert.True(outcome.Stopped);
        Assert.Null(outcome.ExitCode);
        Assert.Empty(logs.Stdout);
        Assert.False(Directory.Exists(_docker.OutputFolderOf(spec)));
    }

    [Fact]
    public async Task A_job_over_its_memory_limit_is_reported_as_killed_for_lack_of_memory()
    {
        await using var small = new DockerHarness(o => o with
        {
            DefaultLimits = o.DefaultLimits with { MemoryBytes = 16L << 20 },
        });
        // dd fills a 64 MiB buffer from /dev/zero: every page of it is really touched.
        var spec = DockerHarness.Spec(["dd", "if=/dev/zero", "of=/dev/null", "bs=64M", "count=1"]);

        var (outcome, _) = await small.RunAsync(spec);

        Assert.False(outcome.Succeeded);
        Assert.Equal(137, outcome.ExitCode);
        Assert.Equal("killed: out of memory (limit 16 MiB)", outcome.Error);
        Assert.Equal(0, await DockerHarness.ContainersOfAsync(spec));
    }

    [Fact]
    public async Task A_job_whose_child_ran_out_of_memory_fails_with_the_reason()
    {
        await using var small = new DockerHarness(o => o with
        {
            DefaultLimits = o.DefaultLimits with { MemoryBytes = 16L << 20 },
        });

        var (outcome, _) = await small.RunAsync(DockerHarness.Shell("dd if=/dev/zero of=/dev/null bs=64M count=1 || exit 2"));

        Assert.Equal(2, outcome.ExitCode);
        Assert.Equal("exit code 2 after a process of the job was killed: out of memory (limit 16 MiB)", outcome.Error);
    }

    [Fact]
    public async Task The_pids_limit_bounds_how_many_processes_a_job_can_start()
    {
        await using var few = new DockerHarness(o => o with { DefaultLimits = o.DefaultLimits with { Pids = 8 } });

        // Twenty sleeps in the background: a fork fails long before the twentieth and the shell
        // gives up. The sleeps end with the container, when the shell (the init's only child) exits.
        var (outcome, logs) = await few.RunAsync(DockerHarness.Shell("for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do sleep 30 & done; echo done"));

        Assert.Equal(2, outcome.ExitCode);
        Assert.Empty(logs.Stdout);
        Assert.Equal(["sh: can't fork: Resource temporarily unavailable"], logs.Stderr);
    }

    /// <summary>Cancels the stop (and kill) switches once the job has shown it is running.</summary>
    private sealed class StopOnFirstLine(CancellationTokenSource stop, CancellationTokenSource? kill = null) : Runtimes.ILogSink
    {
        // Off the output reader's thread, as the worker's heartbeat loop would do it.
        public void Write(Runtimes.LogStream stream, string line) => ThreadPool.QueueUserWorkItem(_ =>
        {
            kill?.Cancel();
            stop.Cancel();
        });
    }
}
