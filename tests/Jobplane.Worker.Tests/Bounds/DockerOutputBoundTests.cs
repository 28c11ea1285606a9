using System.Globalization;
using Jobplane.Worker.Tests.Docker;

namespace Jobplane.Worker.Tests.Bounds;

/// <summary>
/// A container cannot make the worker host store more than DOCKER_OUTPUT_MAX_BYTES through its
/// output folder: past the bound its writes fail, the attempt goes on, and nothing stays mounted.
/// </summary>
public sealed class DockerOutputBoundTests : IAsyncLifetime
{
    private const long Bound = 16L << 20;
    private readonly DockerHarness _docker = new(o => o with { OutputMaxBytes = Bound });

    public Task InitializeAsync() => Task.CompletedTask;

    public Task DisposeAsync() => _docker.DisposeAsync().AsTask();

    [Fact]
    public async Task A_container_writing_far_past_the_bound_gets_no_space_and_its_later_result_is_still_read()
    {
        Assert.True(Environment.IsPrivilegedProcess, "only a root worker can mount the bounded output folder");
        var before = HostMounts.FreeBytes(_docker.WorkRoot);
        // 32 times the bound, then the job frees its space and reports.
        var spec = DockerHarness.Shell(
            """cd "$JOBPLANE_OUTPUT_DIR"; dd if=/dev/zero of=big bs=1M count=512; echo "dd exit $?"; echo "kept $(wc -c < big)"; rm big; echo '{"after": "the full disk"}' > result.json""");

        var (outcome, logs) = await _docker.RunAsync(spec);
        var after = HostMounts.FreeBytes(_docker.WorkRoot);

        Assert.True(outcome.Succeeded, outcome.Error);
        Assert.Equal("the full disk", outcome.Result!.Value.GetProperty("after").GetString());
        Assert.Contains(logs.Stderr, line => line.Contains("No space left on device", StringComparison.Ordinal));
        Assert.Contains("dd exit 1", logs.Stdout);
        var kept = long.Parse(logs.Stdout.Single(l => l.StartsWith("kept ", StringComparison.Ordinal))[5..], CultureInfo.InvariantCulture);
        Assert.InRange(kept, 1, Bound);
        // Unbounded, the disk would have lost 512 MiB; other processes on the host move it a little.
        // What the job kept is the bound's proof; the host's free space is only reported, as other
        // processes write to the same disk at the same time.
        Console.WriteLine($"host disk free space changed by {(after - before) >> 20} MiB");
        Assert.Empty(HostMounts.Below(_docker.WorkRoot));
        Assert.False(Directory.Exists(_docker.OutputFolderOf(spec)));
    }

    [Fact]
    public async Task The_output_folder_is_a_tmpfs_of_the_bound_writable_only_by_the_container_user()
    {
        var (outcome, logs) = await _docker.RunAsync(DockerHarness.Shell(
            """stat -f -c '%T' "$JOBPLANE_OUTPUT_DIR"; stat -c '%a %u' "$JOBPLANE_OUTPUT_DIR"; df -k "$JOBPLANE_OUTPUT_DIR" | tail -1 | awk '{print $2}'"""));

        Assert.True(outcome.Succeeded, outcome.Error);
        Assert.Equal(["tmpfs", "700 65534", (Bound / 1024).ToString(CultureInfo.InvariantCulture)], logs.Stdout);
        Assert.Contains(_docker.Logger.Entries, e => e.Message.Contains("Docker output folders are tmpfs mounts of at most 16 MiB each", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Output_folders_a_crashed_worker_left_mounted_are_unmounted_and_removed_at_start()
    {
        var leftover = Path.Combine(_docker.WorkRoot, _docker.WorkerId, $"{Guid.NewGuid():D}-1");
        HostMounts.MountLeftover(leftover);
        Assert.NotEmpty(HostMounts.Below(leftover));

        await _docker.Runtime.CleanupOrphansAsync(CancellationToken.None);

        Assert.Empty(HostMounts.Below(_docker.WorkRoot));
        Assert.False(Directory.Exists(leftover));
        Assert.Contains(_docker.Logger.Entries, e => e.Message.Contains("Unmounted 1 attempt folder(s) left mounted", StringComparison.Ordinal));
    }
}
