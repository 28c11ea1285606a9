using System.Globalization;
using Jobplane.Worker.Runtimes.Exec;

namespace Jobplane.Worker.Tests.Exec;

/// <summary>What a root worker guarantees about who a job runs as and what it leaves behind.</summary>
public sealed class ExecIsolationTests : IDisposable
{
    private readonly ExecHarness _exec = new();

    public void Dispose() => _exec.Dispose();

    [Fact]
    public async Task A_job_runs_as_an_unprivileged_job_user_without_capabilities()
    {
        Assert.True(Environment.IsPrivilegedProcess, "the suite runs as root, as a worker that gives each job a user of its own");
        var (outcome, logs) = await _exec.RunAsync(ExecHarness.Shell(
            "id -u; id -g; id -G; grep -E '^(CapEff|CapBnd|NoNewPrivs):' /proc/self/status; stat -c '%a %u' .; ls .. >/dev/null 2>&1 && echo listed || echo unlisted"));

        Assert.True(outcome.Succeeded, outcome.Error);
        var uid = uint.Parse(logs.Stdout[0], CultureInfo.InvariantCulture);
        Assert.InRange(uid, JobUserRange.Default.First, JobUserRange.Default.Last);
        Assert.Equal(logs.Stdout[0], logs.Stdout[1]);
        Assert.Equal(logs.Stdout[0], logs.Stdout[2]);
        Assert.Equal(["CapEff:\t0000000000000000", "CapBnd:\t0000000000000000", "NoNewPrivs:\t1"], logs.Stdout.Skip(3).Take(3));
        Assert.Equal($"700 {uid}", logs.Stdout[6]);
        Assert.Equal("unlisted", logs.Stdout[7]);
    }

    [Fact]
    public async Task Attempts_running_at_once_never_share_a_user()
    {
        // The attempts really overlap: each one waits until all six have started, so a user given
        // back by a finished attempt cannot explain two attempts with the same user.
        if (!OperatingSystem.IsLinux()) throw new PlatformNotSupportedException("the exec runtime runs on Linux only");
        var started = Directory.CreateTempSubdirectory("jobplane-overlap-").FullName;
        File.SetUnixFileMode(started, (UnixFileMode)0b111_111_111);
        try
        {
            var script = $"id -u; touch {started}/$$; i=0; " +
                         $"while [ $(ls {started} | wc -l) -lt 6 ]; do i=$((i+1)); [ $i -gt 600 ] && echo alone && exit 1; sleep 0.1; done";
            var runs = await Task.WhenAll(Enumerable.Range(0, 6).Select(_ => _exec.RunAsync(ExecHarness.Shell(script))));

            var users = runs.Select(r => r.Logs.Stdout[0]).ToList();
            Assert.All(runs, r => Assert.True(r.Outcome.Succeeded, $"{r.Outcome.Error} {string.Join(' ', r.Logs.Stdout)}"));
            Assert.Equal(users.Count, users.Distinct().Count());
        }
        finally
        {
            Directory.Delete(started, recursive: true);
        }
    }

    [Fact]
    public async Task What_a_job_leaves_in_shared_temporary_folders_goes_with_the_attempt()
    {
        var name = $"jobplane-left-{Guid.NewGuid():N}";
        var (outcome, _) = await _exec.RunAsync(ExecHarness.Shell(
            $"echo secret > /tmp/{name}; mkdir /var/tmp/{name}; echo secret > /var/tmp/{name}/f; echo secret > /dev/shm/{name}"));

        Assert.True(outcome.Succeeded, outcome.Error);
        Assert.False(File.Exists($"/tmp/{name}"), "a file in /tmp outlived its attempt");
        Assert.False(Directory.Exists($"/var/tmp/{name}"), "a folder in /var/tmp outlived its attempt");
        Assert.False(File.Exists($"/dev/shm/{name}"), "a file in /dev/shm outlived its attempt");
    }

    [Fact]
    public async Task A_container_image_is_never_run_on_the_host()
    {
        var spec = ExecHarness.Spec(["id"]) with { Image = "alpine:latest" };

        var (outcome, logs) = await _exec.RunAsync(spec);

        Assert.False(outcome.Retryable);
        Assert.Empty(logs.Stdout);
        Assert.Equal("image 'alpine:latest' is a container image; an exec worker runs only jobs whose image is 'exec'", outcome.Error);
    }

    [Fact]
    public void A_job_user_range_is_checked()
    {
        Assert.Equal(new JobUserRange(2000, 2009), JobUserRange.Parse("2000-2009", out _));
        Assert.Equal(new JobUserRange(5000, 5000), JobUserRange.Parse("5000", out _));
        foreach (var bad in new[] { "0-10", "999-2000", "3000-2000", "60000-70000", "a-b", "", "2000-4294967295" })
        {
            Assert.Null(JobUserRange.Parse(bad, out var problem));
            Assert.NotNull(problem);
        }
    }
}
