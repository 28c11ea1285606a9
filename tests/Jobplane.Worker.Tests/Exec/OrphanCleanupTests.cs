using System.Diagnostics;

namespace Jobplane.Worker.Tests.Exec;

public sealed class OrphanCleanupTests : IDisposable
{
    private readonly ExecHarness _exec = new();

    public void Dispose() => _exec.Dispose();

    /// <summary>A process like one a previous life of a worker left behind: its own session, the worker id in its environment.</summary>
    private static Process StartDetached(string workerId)
    {
        var start = new ProcessStartInfo("/usr/bin/setsid") { UseShellExecute = false };
        start.ArgumentList.Add("sleep");
        start.ArgumentList.Add("600");
        start.Environment["JOBPLANE_WORKER_ID"] = workerId;
        return Process.Start(start)!;
    }

    [Fact]
    public async Task Processes_and_directories_of_this_worker_are_removed_and_nobody_elses()
    {
        // Another worker whose id starts with ours: matching must be exact.
        var otherId = _exec.WorkerId + "-other";
        using var mine = StartDetached(_exec.WorkerId);
        using var theirs = StartDetached(otherId);
        try
        {
            var myLeftover = Directory.CreateDirectory(Path.Combine(_exec.WorkRoot, _exec.WorkerId, $"{Guid.NewGuid()}-1", "sub")).Parent!.FullName;
            File.WriteAllText(Path.Combine(myLeftover, "sub", "data"), "x");
            var theirLeftover = Directory.CreateDirectory(Path.Combine(_exec.WorkRoot, otherId, $"{Guid.NewGuid()}-1")).FullName;
            Assert.True(Processes.IsRunning(mine.Id));

            await _exec.Runtime.CleanupOrphansAsync(CancellationToken.None);

            Assert.True(mine.WaitForExit(TimeSpan.FromSeconds(5)), "this worker's orphan still runs");
            Assert.False(Directory.Exists(myLeftover));
            Assert.True(Directory.Exists(Path.Combine(_exec.WorkRoot, _exec.WorkerId)));
            Assert.False(theirs.HasExited, "another worker's process was killed");
            Assert.True(Directory.Exists(theirLeftover));
            Assert.Contains(_exec.Logger.Entries, e => e.Message.Contains($"orphan process {mine.Id}", StringComparison.Ordinal));
            Assert.Contains(_exec.Logger.Entries, e => e.Message.Contains(myLeftover, StringComparison.Ordinal));
        }
        finally
        {
            if (!mine.HasExited) mine.Kill();
            if (!theirs.HasExited) theirs.Kill();
        }
    }

    [Fact]
    public async Task Cleanup_finds_what_a_job_left_in_a_session_of_its_own()
    {
        var (outcome, logs) = await _exec.RunAsync(ExecHarness.Shell(ExecRuntimeTerminationTests.EscapeScript));
        var escaped = int.Parse(logs.Stdout[0], System.Globalization.CultureInfo.InvariantCulture);
        try
        {
            Assert.True(outcome.Succeeded, outcome.Error);
            Assert.True(Processes.IsRunning(escaped));

            await _exec.Runtime.CleanupOrphansAsync(CancellationToken.None);

            Assert.True(await Processes.WaitGoneAsync(escaped), "the escaped process still runs");
        }
        finally
        {
            Processes.Kill(escaped);
        }
    }

    [Fact]
    public async Task Cleanup_with_nothing_left_behind_does_nothing()
    {
        await _exec.Runtime.CleanupOrphansAsync(CancellationToken.None);

        Assert.Contains(_exec.Logger.Entries, e => e.Message.Contains("0 process(es) killed, 0 working director(ies) removed", StringComparison.Ordinal));
    }
}
