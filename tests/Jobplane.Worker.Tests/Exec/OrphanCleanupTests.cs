using System.Diagnostics;

namespace Jobplane.Worker.Tests.Exec;

public sealed class OrphanCleanupTests : IDisposable
{
    private readonly ExecHarness _exec = new();

    public void Dispose() => _exec.Dispose();

    [Fact]
    public async Task A_process_that_left_the_jobs_session_dies_with_the_attempt()
    {
        Assert.True(Environment.IsPrivilegedProcess, "the suite runs as root, as a worker that gives each job a user of its own");
        var (outcome, logs) = await _exec.RunAsync(ExecHarness.Shell(ExecRuntimeTerminationTests.EscapeScript));
        var escaped = int.Parse(logs.Stdout[0], System.Globalization.CultureInfo.InvariantCulture);
        try
        {
            Assert.True(outcome.Succeeded, outcome.Error);
            // Gone when the attempt ends, not only at the next worker start: it ran as the attempt's
            // user. (Killed by then; a few milliseconds may pass before the kernel has it dead.)
            Assert.True(await Processes.WaitGoneAsync(escaped, TimeSpan.FromSeconds(2)), "a process of the job that left its session outlived the attempt");
        }
        finally
        {
            Processes.Kill(escaped);
        }
    }

    [Fact]
    public async Task Cleanup_kills_what_a_crashed_workers_job_left_even_with_a_scrubbed_environment()
    {
        Assert.True(Environment.IsPrivilegedProcess, "the suite runs as root, as a worker that gives each job a user of its own");
        var range = ExecHarness.PrivateUserRange();
        using var exec = new ExecHarness(users: range);
        // What a crashed worker's job leaves: a process of a job user, in a session of its own,
        // without JOBPLANE_WORKER_ID in its environment, and the id's lock file that nobody holds now.
        var uid = range.First + 2;
        File.WriteAllText(Path.Combine(Runtimes.Exec.JobUserPool.DefaultLockDirectory, $"{uid}.lock"), "");
        var start = new ProcessStartInfo("/usr/bin/setpriv") { UseShellExecute = false };
        foreach (var a in new[] { $"--reuid={uid}", $"--regid={uid}", "--clear-groups", "/usr/bin/setsid", "sleep", "600" })
            start.ArgumentList.Add(a);
        start.Environment.Clear();
        using var orphan = Process.Start(start)!;
        try
        {
            // Until setpriv has switched, the process is still root's and not a job user's leftover.
            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
            while (!File.ReadAllText($"/proc/{orphan.Id}/status").Contains($"\nUid:\t{uid}\t", StringComparison.Ordinal) ||
                   !File.ReadAllText($"/proc/{orphan.Id}/comm").StartsWith("sleep", StringComparison.Ordinal))
            {
                Assert.True(DateTime.UtcNow < deadline, "the planted process never became the job user's sleep");
                await Task.Delay(20);
            }

            await exec.Runtime.CleanupOrphansAsync(CancellationToken.None);

            Assert.True(orphan.WaitForExit(TimeSpan.FromSeconds(5)), "a job user's leftover process survived the worker's start");
            Assert.Contains(exec.Logger.Entries, e => e.Message.Contains("idle job user(s) swept", StringComparison.Ordinal));
        }
        finally
        {
            if (!orphan.HasExited) orphan.Kill();
        }
    }

    [Fact]
    public async Task Cleanup_with_nothing_left_behind_does_nothing()
    {
        await _exec.Runtime.CleanupOrphansAsync(CancellationToken.None);

        Assert.Contains(_exec.Logger.Entries, e => e.Message.Contains("0 process(es) killed, 0 working director(ies) removed", StringComparison.Ordinal));
    }
}
