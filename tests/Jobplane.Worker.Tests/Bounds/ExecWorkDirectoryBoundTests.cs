using System.Globalization;
using Jobplane.Worker.Tests.Exec;

namespace Jobplane.Worker.Tests.Bounds;

/// <summary>
/// On a root worker an exec job cannot make the host store more than EXEC_WORKDIR_MAX_BYTES in its
/// folder: past the bound its writes fail, the attempt still reports, and nothing stays mounted.
/// </summary>
public sealed class ExecWorkDirectoryBoundTests : IDisposable
{
    private const long Bound = 16L << 20;
    private readonly ExecHarness _exec = new(workDirectoryMaxBytes: Bound);

    public void Dispose() => _exec.Dispose();

    [Fact]
    public async Task A_job_writing_far_past_the_bound_gets_no_space_and_still_reports()
    {
        Assert.True(Environment.IsPrivilegedProcess, "only a root worker can mount the bounded folder");
        var before = HostMounts.FreeBytes(_exec.WorkRoot);
        var spec = ExecHarness.Shell(
            """dd if=/dev/zero of=big bs=1M count=512; echo "dd exit $?"; echo "kept $(wc -c < big)"; rm big; echo '{"after": "the full disk"}' > result.json""");

        var (outcome, logs) = await _exec.RunAsync(spec);
        var after = HostMounts.FreeBytes(_exec.WorkRoot);

        Assert.True(outcome.Succeeded, outcome.Error);
        Assert.Equal("the full disk", outcome.Result!.Value.GetProperty("after").GetString());
        Assert.Contains(logs.Stderr, line => line.Contains("No space left on device", StringComparison.Ordinal));
        Assert.Contains("dd exit 1", logs.Stdout);
        var kept = long.Parse(logs.Stdout.Single(l => l.StartsWith("kept ", StringComparison.Ordinal))[5..], CultureInfo.InvariantCulture);
        Assert.InRange(kept, 1, Bound);
        // What the job kept is the bound's proof; the host's free space is only reported, as other
        // processes write to the same disk at the same time.
        Console.WriteLine($"host disk free space changed by {(after - before) >> 20} MiB");
        Assert.Empty(HostMounts.Below(_exec.WorkRoot));
        Assert.False(Directory.Exists(_exec.WorkDirectoryOf(spec)));
    }

    [Fact]
    public async Task The_folder_is_a_private_tmpfs_of_the_bound_owned_by_the_job_user()
    {
        Assert.True(Environment.IsPrivilegedProcess, "only a root worker can mount the bounded folder");
        var (outcome, logs) = await _exec.RunAsync(ExecHarness.Shell(
            """stat -f -c '%T' .; [ "$(stat -c '%a %u' .)" = "700 $(id -u)" ] && echo private; df -k . | tail -1 | awk '{print $2}'; grep " $PWD " /proc/self/mountinfo | grep -o 'nosuid,nodev'"""));

        Assert.True(outcome.Succeeded, outcome.Error);
        Assert.Equal(["tmpfs", "private", (Bound / 1024).ToString(CultureInfo.InvariantCulture), "nosuid,nodev"], logs.Stdout);
    }

    [Fact]
    public async Task A_job_that_leaves_a_process_holding_its_folder_still_leaves_nothing_mounted()
    {
        Assert.True(Environment.IsPrivilegedProcess, "only a root worker can mount the bounded folder");
        var spec = ExecHarness.Shell("setsid sh -c 'cd . && exec sleep 300' </dev/null >/dev/null 2>&1 & echo started");

        var (outcome, _) = await _exec.RunAsync(spec);

        Assert.True(outcome.Succeeded, outcome.Error);
        Assert.Empty(HostMounts.Below(_exec.WorkRoot));
        Assert.False(Directory.Exists(_exec.WorkDirectoryOf(spec)));
    }

    [Fact]
    public async Task Folders_a_crashed_worker_left_mounted_are_unmounted_and_removed_at_start()
    {
        Assert.True(Environment.IsPrivilegedProcess, "only a root worker can mount the bounded folder");
        var leftover = Path.Combine(_exec.WorkRoot, _exec.WorkerId, $"{Guid.NewGuid():D}-1");
        HostMounts.MountLeftover(leftover);

        await _exec.Runtime.CleanupOrphansAsync(CancellationToken.None);

        Assert.Empty(HostMounts.Below(_exec.WorkRoot));
        Assert.False(Directory.Exists(leftover));
        Assert.Contains(_exec.Logger.Entries, e => e.Message.Contains("Unmounted 1 attempt folder(s) left mounted", StringComparison.Ordinal));
    }

    [Fact]
    public void A_worker_told_not_to_bound_folders_says_so_in_its_log()
    {
        using var unbounded = new ExecHarness(workDirectoryMaxBytes: 0);

        Assert.Contains(unbounded.Logger.Entries, e => e.Message.StartsWith("Exec attempt folders are NOT size-bounded", StringComparison.Ordinal));
        Assert.DoesNotContain(_exec.Logger.Entries, e => e.Message.StartsWith("Exec attempt folders are NOT size-bounded", StringComparison.Ordinal));
    }
}
