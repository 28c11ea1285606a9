using Jobplane.Api;
using Jobplane.Testing;
using Jobplane.Worker.Runtimes;
using Jobplane.Worker.Runtimes.Docker;
using Microsoft.Extensions.Logging.Abstractions;

namespace Jobplane.Worker.Tests.Agent;

/// <summary>
/// A job's resources, network and request for root from the job API to the container, through the
/// real controller, agent and Docker Engine; and the exec runtime, which cannot enforce them, running
/// such jobs anyway.
/// </summary>
public sealed class ResourceRequestTests : IAsyncLifetime
{
    // The limits from the container's own cgroup (v2 or v1), then the network interfaces it sees.
    private const string Inspect =
        "cat /sys/fs/cgroup/memory.max 2>/dev/null || cat /sys/fs/cgroup/memory/memory.limit_in_bytes; "
        + "cat /sys/fs/cgroup/pids.max 2>/dev/null || cat /sys/fs/cgroup/pids/pids.max; "
        + "tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' '";

    private readonly ControllerHost _host = new();
    private AgentHarness _docker = null!;
    private AgentHarness _exec = null!;

    public async Task InitializeAsync()
    {
        await _host.InitializeAsync();
        // The test engine has no bridge: the network this worker lets jobs join is the host's.
        _docker = await AgentHarness.StartAsync(_host, runtime: o => new AttemptSupervisor(new DockerRuntime(new DockerRuntimeOptions
        {
            WorkRoot = o.WorkRoot,
            WorkerId = o.WorkerId,
            Endpoint = new Uri(TestDocker.Host),
            KillGrace = o.KillGrace,
            DefaultLimits = new ContainerLimits { MemoryBytes = 64L << 20, Cpus = 1, Pids = 64 },
            MaxLimits = new ContainerLimits { MemoryBytes = 128L << 20, Cpus = 1, Pids = 128 },
            Network = "host",
        }, NullLogger.Instance, TimeProvider.System), NullLogger.Instance, TimeProvider.System), onlyItsTenant: true);
        _exec = await AgentHarness.StartAsync(_host, onlyItsTenant: true);
    }

    public async Task DisposeAsync()
    {
        await _docker.DisposeAsync();
        await _exec.DisposeAsync();
        await _host.DisposeAsync();
    }

    private async Task<List<string>> StdoutAsync(AgentHarness agent, Guid id) =>
        [.. (await agent.AllLogsAsync(id)).Where(l => l.Stream == "stdout").Select(l => l.Content)];

    [Fact]
    public async Task A_container_gets_the_memory_and_processes_its_job_asks_for_and_network_when_allowed()
    {
        await _docker.AllowNetworkAsync();

        var id = await _docker.SubmitAsync("sized", ["sh", "-c", Inspect], image: TestDocker.Image,
            resources: new JobResources { MemoryMib = 32, Pids = 20 }, network: true);

        var done = await _docker.WaitForAsync(id, e => ExecutionStatus.IsTerminal(e.Status));
        Assert.True(done.Status == ExecutionStatus.Succeeded, done.Error);
        var stdout = await StdoutAsync(_docker, id);
        Assert.Equal(["33554432", "20"], stdout[..2]);
        Assert.Contains("lo", stdout[2..]);
        Assert.Contains(stdout[2..], i => i != "lo");
    }

    [Fact]
    public async Task A_container_of_a_job_asking_for_nothing_gets_the_defaults_and_no_network()
    {
        await _docker.AllowNetworkAsync();

        var id = await _docker.SubmitAsync("plain", ["sh", "-c", Inspect], image: TestDocker.Image);

        var done = await _docker.WaitForAsync(id, e => ExecutionStatus.IsTerminal(e.Status));
        Assert.True(done.Status == ExecutionStatus.Succeeded, done.Error);
        Assert.Equal(["67108864", "64", "lo"], await StdoutAsync(_docker, id));
    }

    [Fact]
    public async Task A_job_asking_for_more_than_the_worker_grants_is_not_claimed_and_says_what_it_waits_for()
    {
        var id = await _docker.SubmitAsync("greedy", ["true"], maxAttempts: 3, image: TestDocker.Image,
            resources: new JobResources { MemoryMib = 256 });

        // The worker (at most 128 MiB) announces what it grants; the claim leaves the job alone.
        // Until its first dequeue is recorded the job waits for any container worker, hence the wait.
        var waiting = await _docker.WaitForAsync(id, e => e.WaitingFor?.Contains("256 MiB", StringComparison.Ordinal) == true);
        Assert.Equal(ExecutionStatus.Pending, waiting.Status);
        Assert.Equal(0, waiting.Attempt);
    }

    [Fact]
    public async Task A_job_asking_for_root_on_a_worker_not_allowing_it_is_not_claimed_and_says_what_it_waits_for()
    {
        var id = await _docker.SubmitAsync("rooted", ["true"], maxAttempts: 3, image: TestDocker.Image, runAsRoot: true);

        var waiting = await _docker.WaitForAsync(id, e => e.WaitingFor?.Contains("root", StringComparison.Ordinal) == true);
        Assert.Equal(ExecutionStatus.Pending, waiting.Status);
        Assert.Equal(0, waiting.Attempt);
    }

    [Fact]
    public async Task The_exec_runtime_runs_a_job_asking_for_root_as_an_unprivileged_job_user()
    {
        var id = await _exec.SubmitAsync("rooted", ["id", "-u"], runAsRoot: true);

        var done = await _exec.WaitForAsync(id, e => ExecutionStatus.IsTerminal(e.Status));
        Assert.True(done.Status == ExecutionStatus.Succeeded, done.Error);
        var uid = uint.Parse(Assert.Single(await StdoutAsync(_exec, id)), System.Globalization.CultureInfo.InvariantCulture);
        Assert.InRange(uid, Runtimes.Exec.JobUserRange.Default.First, Runtimes.Exec.JobUserRange.Default.Last);
    }

    [Fact]
    public async Task The_exec_runtime_runs_a_job_asking_for_resources_and_network_without_enforcing_them()
    {
        await _exec.AllowNetworkAsync();

        var id = await _exec.SubmitAsync("trusted", ["echo", "ran"], resources: new JobResources { MemoryMib = 6, Cpus = 0.01, Pids = 1 }, network: true);

        var done = await _exec.WaitForAsync(id, e => ExecutionStatus.IsTerminal(e.Status));
        Assert.True(done.Status == ExecutionStatus.Succeeded, done.Error);
        Assert.Equal(["ran"], await StdoutAsync(_exec, id));
    }
}
