using System.Diagnostics;
using System.Globalization;

namespace Jobplane.Worker.Tests.Exec;

public sealed class ExecRuntimeTerminationTests : IDisposable
{
    private readonly ExecHarness _exec = new(killGrace: TimeSpan.FromSeconds(1));

    public void Dispose() => _exec.Dispose();

    /// <summary>
    /// Starts a sleep in a session of its own (it keeps the job's stdout and stderr) and prints its
    /// pid once it has really left the job's group (field 6 of /proc/PID/stat, its session, is itself).
    /// </summary>
    internal const string EscapeScript =
        "setsid sleep 600 & p=$!; while [ \"$(cut -d' ' -f6 /proc/$p/stat)\" != \"$p\" ]; do sleep 0.02; done; echo $p";

    [Fact]
    public async Task A_timeout_kills_the_job_and_the_children_it_started()
    {
        var spec = ExecHarness.Shell("sleep 600 & echo $!; pwd; sleep 600", timeout: TimeSpan.FromSeconds(1));

        var (outcome, logs) = await _exec.RunAsync(spec);

        Assert.True(outcome.TimedOut);
        Assert.False(outcome.Stopped);
        Assert.Equal("timed out after 1s", outcome.Error);
        Assert.True(outcome.Retryable);
        Assert.False(outcome.Succeeded);
        var child = int.Parse(logs.Stdout[0], CultureInfo.InvariantCulture);
        Assert.True(await Processes.WaitGoneAsync(child), $"child {child} of the timed-out job still runs");
        Assert.Equal(_exec.WorkDirectoryOf(spec), logs.Stdout[1]);
        Assert.False(Directory.Exists(_exec.WorkDirectoryOf(spec)));
        // Everything died of the SIGTERM: no SIGKILL was needed.
        Assert.Equal(143, outcome.ExitCode);
        Assert.DoesNotContain(_exec.Logger.Entries, e => e.Message.Contains("SIGKILL", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_process_that_escaped_the_group_cannot_hold_the_attempt_open_through_its_output()
    {
        // The escaped sleep keeps stdout open; the attempt must still end, soon after the job did.
        var clock = Stopwatch.StartNew();
        var (outcome, logs) = await _exec.RunAsync(ExecHarness.Shell(EscapeScript));
        var escaped = int.Parse(logs.Stdout[0], CultureInfo.InvariantCulture);
        try
        {
            Assert.True(outcome.Succeeded, outcome.Error);
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(10), $"took {clock.Elapsed}");
            Assert.Contains(_exec.Logger.Entries, e => e.Message.Contains("still held open", StringComparison.Ordinal));
        }
        finally
        {
            Processes.Kill(escaped);
        }
    }
}
