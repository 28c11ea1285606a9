using Jobplane.Worker.Runtimes;

namespace Jobplane.Worker.Tests.Docker;

/// <summary>
/// What a job asks for, on real containers: its memory, CPU and process limits within the operator's
/// maximums, network only when it asks and the worker allows one, and root likewise.
/// </summary>
public sealed class DockerRuntimeResourceTests : IAsyncLifetime
{
    // The limits as the container's own cgroup states them, under cgroup v2 or v1.
    private const string ReadLimits =
        "cat /sys/fs/cgroup/memory.max 2>/dev/null || cat /sys/fs/cgroup/memory/memory.limit_in_bytes; "
        + "cat /sys/fs/cgroup/pids.max 2>/dev/null || cat /sys/fs/cgroup/pids/pids.max; "
        + "cat /sys/fs/cgroup/cpu.max 2>/dev/null || echo \"$(cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us) $(cat /sys/fs/cgroup/cpu/cpu.cfs_period_us)\"";

    // The network interfaces the job sees, one per line.
    private const string ListInterfaces = "tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' ' | sort";

    // The harness's defaults are 64 MiB, 1 CPU, 64 processes, and so are its maximums: widen them so
    // that a request between the two can be seen.
    private readonly DockerHarness _docker = new(o => o with
    {
        MaxLimits = new Runtimes.Docker.ContainerLimits { MemoryBytes = 128L << 20, Cpus = 2, Pids = 128 },
    });

    public Task InitializeAsync() => Task.CompletedTask;

    public Task DisposeAsync() => _docker.DisposeAsync().AsTask();

    [Fact]
    public async Task A_job_asking_for_nothing_gets_the_operators_defaults()
    {
        var (outcome, logs) = await _docker.RunAsync(DockerHarness.Shell(ReadLimits));

        Assert.True(outcome.Succeeded, outcome.Error);
        Assert.Equal(["67108864", "64", "100000 100000"], logs.Stdout);
    }

    [Fact]
    public async Task A_job_gets_the_memory_cpus_and_processes_it_asks_for()
    {
        var spec = DockerHarness.Shell(ReadLimits) with { Resources = new ResourceRequest(MemoryBytes: 32L << 20, Cpus: 0.5, Pids: 20) };

        var (outcome, logs) = await _docker.RunAsync(spec);

        Assert.True(outcome.Succeeded, outcome.Error);
        Assert.Equal(["33554432", "20", "50000 100000"], logs.Stdout);
    }

    [Fact]
    public async Task A_job_may_ask_for_more_than_the_default_up_to_the_maximum()
    {
        var spec = DockerHarness.Shell(ReadLimits) with { Resources = new ResourceRequest(MemoryBytes: 128L << 20, Pids: 128) };

        var (outcome, logs) = await _docker.RunAsync(spec);

        Assert.True(outcome.Succeeded, outcome.Error);
        // What it did not ask for (CPUs) stays the default.
        Assert.Equal(["134217728", "128", "100000 100000"], logs.Stdout);
    }

    [Fact]
    public async Task A_job_over_the_memory_it_asked_for_is_killed_naming_that_limit()
    {
        // dd fills a 64 MiB buffer, twice the 32 MiB asked for (and as much as the default allows).
        var spec = DockerHarness.Spec(["dd", "if=/dev/zero", "of=/dev/null", "bs=64M", "count=1"])
            with
        { Resources = new ResourceRequest(MemoryBytes: 32L << 20) };

        var (outcome, _) = await _docker.RunAsync(spec);

        Assert.Equal(137, outcome.ExitCode);
        Assert.Equal("killed: out of memory (limit 32 MiB)", outcome.Error);
    }

    [Fact]
    public async Task A_job_killed_by_SIGKILL_with_memory_to_spare_is_not_called_out_of_memory()
    {
        // The same exit as an OOM kill, which the runtime waits a moment to tell apart from one.
        var (outcome, _) = await _docker.RunAsync(DockerHarness.Shell("kill -9 $$"));

        Assert.Equal(137, outcome.ExitCode);
        Assert.Equal("exit code 137: killed by signal 9 (SIGKILL)", outcome.Error);
    }

    [Theory]
    [InlineData(256L << 20, null, null, "memory request 256 MiB is not within this worker's maximum of 128 MiB")]
    [InlineData(null, 4.0, null, "CPU request 4 is not within this worker's maximum of 2")]
    [InlineData(null, null, 129L, "process limit request 129 is not within this worker's maximum of 128")]
    public async Task A_request_above_the_maximum_fails_without_retry_and_runs_nothing(long? memory, double? cpus, long? pids, string error)
    {
        var spec = DockerHarness.Shell("echo ran") with { Resources = new ResourceRequest(memory, cpus, pids) };

        var (outcome, logs) = await _docker.RunAsync(spec);

        Assert.False(outcome.Succeeded);
        Assert.False(outcome.Retryable);
        Assert.Null(outcome.ExitCode);
        Assert.Equal(error, outcome.Error);
        Assert.Empty(logs.Stdout);
        Assert.Equal(0, await DockerHarness.ContainersOfAsync(spec));
        Assert.False(Directory.Exists(_docker.OutputFolderOf(spec)));
    }

    // The test engine runs without a bridge (no iptables on the build machines), so the network a
    // worker allows here is the host's: any network shows interfaces beside loopback.
    [Fact]
    public async Task A_job_not_asking_for_network_has_none_even_where_the_worker_allows_one()
    {
        await using var open = new DockerHarness(o => o with { Network = "host" });

        var (outcome, logs) = await open.RunAsync(DockerHarness.Shell(ListInterfaces));

        Assert.True(outcome.Succeeded, outcome.Error);
        Assert.Equal(["lo"], logs.Stdout);
    }

    [Fact]
    public async Task A_job_asking_for_network_joins_the_workers_network()
    {
        await using var open = new DockerHarness(o => o with { Network = "host" });

        var (outcome, logs) = await open.RunAsync(DockerHarness.Shell(ListInterfaces) with { Network = true });

        Assert.True(outcome.Succeeded, outcome.Error);
        Assert.Contains("lo", logs.Stdout);
        Assert.Contains(logs.Stdout, i => i != "lo");
    }

    [Fact]
    public async Task A_job_asking_for_network_fails_without_retry_where_the_worker_allows_none()
    {
        var spec = DockerHarness.Shell("echo ran") with { Network = true };

        var (outcome, logs) = await _docker.RunAsync(spec);

        Assert.False(outcome.Retryable);
        Assert.Null(outcome.ExitCode);
        Assert.Equal("the job asks for network, and this worker allows none (DOCKER_NETWORK=none)", outcome.Error);
        Assert.Empty(logs.Stdout);
        Assert.Equal(0, await DockerHarness.ContainersOfAsync(spec));
    }

    // Who the job runs as, and that it can still write its output folder (every capability is
    // dropped, root's too, so the folder must belong to the user the container runs as).
    private const string WhoAmI = "id -u; id -g; touch \"$JOBPLANE_OUTPUT_DIR/written\" && echo wrote";

    [Fact]
    public async Task A_job_asking_to_run_as_root_runs_as_root_where_the_worker_allows_it()
    {
        await using var rooted = new DockerHarness(o => o with { AllowRoot = true });

        var (outcome, logs) = await rooted.RunAsync(DockerHarness.Shell(WhoAmI) with { RunAsRoot = true });

        Assert.True(outcome.Succeeded, outcome.Error);
        Assert.Equal(["0", "0", "wrote"], logs.Stdout);
    }

    [Fact]
    public async Task A_job_not_asking_runs_as_the_operators_user_even_where_the_worker_allows_root()
    {
        await using var rooted = new DockerHarness(o => o with { AllowRoot = true });

        var (outcome, logs) = await rooted.RunAsync(DockerHarness.Shell(WhoAmI));

        Assert.True(outcome.Succeeded, outcome.Error);
        Assert.Equal(["65534", "65534", "wrote"], logs.Stdout);
    }

    [Fact]
    public async Task A_job_asking_to_run_as_root_fails_without_retry_where_the_worker_does_not_allow_it()
    {
        var spec = DockerHarness.Shell("echo ran") with { RunAsRoot = true };

        var (outcome, logs) = await _docker.RunAsync(spec);

        Assert.False(outcome.Succeeded);
        Assert.False(outcome.Retryable);
        Assert.Null(outcome.ExitCode);
        Assert.Equal("the job asks to run as root, and this worker does not allow it (DOCKER_ALLOW_ROOT=false)", outcome.Error);
        Assert.Empty(logs.Stdout);
        Assert.Equal(0, await DockerHarness.ContainersOfAsync(spec));
        Assert.False(Directory.Exists(_docker.OutputFolderOf(spec)));
    }
}
