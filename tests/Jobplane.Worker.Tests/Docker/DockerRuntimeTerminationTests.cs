namespace Jobplane.Worker.Tests.Docker;

/// <summary>Memory and process limits on real containers; timeouts, stops and kills are checked by the conformance suite.</summary>
public sealed class DockerRuntimeTerminationTests : IAsyncLifetime
{
    private readonly DockerHarness _docker = new();

    public Task InitializeAsync() => Task.CompletedTask;

    public Task DisposeAsync() => _docker.DisposeAsync().AsTask();

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
}
