using Jobplane.Worker.Runtimes;
using Jobplane.Worker.Runtimes.Docker;

namespace Jobplane.Worker.Tests.Docker;

/// <summary>The operator's DOCKER_* settings: isolating defaults, clear errors, limits bounded by maximums.</summary>
public sealed class DockerRuntimeOptionsTests
{
    private static WorkerOptions Read(Dictionary<string, string> env)
    {
        env.TryAdd("WORKER_TOKEN", "a-worker-token-of-some-length");
        env.TryAdd("RUNTIME", "docker");
        return WorkerOptions.FromEnvironment(k => env.GetValueOrDefault(k));
    }

    [Fact]
    public void The_defaults_isolate()
    {
        var docker = Read([]).Docker!;

        Assert.Equal(new Uri("unix:///var/run/docker.sock"), docker.Endpoint);
        Assert.Equal(PullPolicy.IfNotPresent, docker.PullPolicy);
        Assert.Equal("65534:65534", docker.User);
        Assert.False(docker.AllowRoot);
        Assert.Equal("none", docker.Network);
        Assert.True(docker.ReadOnlyRootFilesystem);
        Assert.Equal(512L << 20, docker.DefaultLimits.MemoryBytes);
        Assert.Equal(1, docker.DefaultLimits.Cpus);
        Assert.Equal(256, docker.DefaultLimits.Pids);
        Assert.Equal(docker.DefaultLimits, docker.MaxLimits);
    }

    [Fact]
    public void An_exec_worker_reads_no_docker_settings()
    {
        var options = Read(new() { ["RUNTIME"] = "exec", ["DOCKER_MEMORY_LIMIT"] = "lots" });

        Assert.Null(options.Docker);
    }

    [Fact]
    public void Settings_are_read()
    {
        var options = Read(new()
        {
            ["DOCKER_HOST"] = "unix:///run/other.sock",
            ["DOCKER_PULL_POLICY"] = "never",
            ["DOCKER_PULL_TIMEOUT"] = "30s",
            ["DOCKER_MEMORY_LIMIT"] = "64m",
            ["DOCKER_MEMORY_LIMIT_MAX"] = "1g",
            ["DOCKER_CPU_LIMIT"] = "0.5",
            ["DOCKER_CPU_LIMIT_MAX"] = "2",
            ["DOCKER_PIDS_LIMIT"] = "100",
            ["DOCKER_PIDS_LIMIT_MAX"] = "1000",
            ["DOCKER_USER"] = "0:0",
            ["DOCKER_ALLOW_ROOT"] = "true",
            ["DOCKER_NETWORK"] = "host",
            ["DOCKER_READ_ONLY_ROOTFS"] = "false",
            ["DOCKER_TMPFS_SIZE"] = "16MiB",
            ["WORKER_KILL_GRACE"] = "3s",
        });
        var docker = options.Docker!;

        Assert.Equal(new Uri("unix:///run/other.sock"), docker.Endpoint);
        Assert.Equal(PullPolicy.Never, docker.PullPolicy);
        Assert.Equal(TimeSpan.FromSeconds(30), docker.PullTimeout);
        Assert.Equal(new ContainerLimits { MemoryBytes = 64L << 20, Cpus = 0.5, Pids = 100 }, docker.DefaultLimits);
        Assert.Equal(new ContainerLimits { MemoryBytes = 1L << 30, Cpus = 2, Pids = 1000 }, docker.MaxLimits);
        Assert.Equal("0:0", docker.User);
        Assert.Equal("host", docker.Network);
        Assert.False(docker.ReadOnlyRootFilesystem);
        Assert.Equal(16L << 20, docker.TmpfsBytes);
        Assert.Equal(TimeSpan.FromSeconds(3), docker.KillGrace);
        Assert.Equal(options.WorkerId, docker.WorkerId);
        Assert.Equal(options.WorkRoot, docker.WorkRoot);
    }

    [Fact]
    public void Every_bad_setting_is_named_in_one_error()
    {
        var env = new Dictionary<string, string>
        {
            ["DOCKER_HOST"] = "not a url",
            ["DOCKER_PULL_POLICY"] = "sometimes",
            ["DOCKER_MEMORY_LIMIT"] = "lots",
            ["DOCKER_CPU_LIMIT"] = "-1",
            ["DOCKER_PIDS_LIMIT"] = "0",
            ["DOCKER_ALLOW_ROOT"] = "maybe",
            ["DOCKER_TMPFS_SIZE"] = "12 parsecs",
            ["DOCKER_PULL_TIMEOUT"] = "soon",
        };
        var names = env.Keys.ToList();
        var e = Assert.Throws<InvalidOperationException>(() => Read(env));
        foreach (var name in names) Assert.Contains(name, e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("DOCKER_USER", "0:0", "runs jobs as root; set DOCKER_ALLOW_ROOT=true")]
    [InlineData("DOCKER_USER", "1000:0", "runs jobs as root")]
    [InlineData("DOCKER_USER", "nobody", "must be a numeric uid:gid")]
    [InlineData("DOCKER_USER", "1000", "must be a numeric uid:gid")]
    [InlineData("DOCKER_NETWORK", "container:other", "DOCKER_NETWORK must be none, host, bridge or the name of a network")]
    [InlineData("DOCKER_HOST", "ssh://somewhere", "DOCKER_HOST must be unix:///path/to/docker.sock or tcp://host:port")]
    [InlineData("DOCKER_MEMORY_LIMIT_MAX", "64m", "DOCKER_MEMORY_LIMIT_MAX must not be below DOCKER_MEMORY_LIMIT")]
    [InlineData("DOCKER_MEMORY_LIMIT", "1m", "at least 6 MiB")]
    public void Settings_that_cannot_work_together_are_refused(string key, string value, string expected)
    {
        var e = Assert.Throws<InvalidOperationException>(() => Read(new() { [key] = value }));
        Assert.Contains(expected, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_job_gets_the_defaults_or_what_it_asks_for_within_the_maximums()
    {
        var options = new DockerRuntimeOptions
        {
            WorkRoot = "/tmp",
            WorkerId = "w",
            DefaultLimits = new ContainerLimits { MemoryBytes = 64L << 20, Cpus = 0.5, Pids = 64 },
            MaxLimits = new ContainerLimits { MemoryBytes = 1L << 30, Cpus = 2, Pids = 512 },
        };

        Assert.Null(options.ResolveLimits(null, out var defaults));
        Assert.Equal(options.DefaultLimits, defaults);
        Assert.Null(options.ResolveLimits(new ResourceRequest(MemoryBytes: 256L << 20, Cpus: 2), out var asked));
        Assert.Equal(new ContainerLimits { MemoryBytes = 256L << 20, Cpus = 2, Pids = 64 }, asked);
        Assert.Equal("memory request 2 GiB is not within this worker's maximum of 1 GiB",
            options.ResolveLimits(new ResourceRequest(MemoryBytes: 2L << 30), out _));
        Assert.Equal("CPU request 4 is not within this worker's maximum of 2",
            options.ResolveLimits(new ResourceRequest(Cpus: 4), out _));
        Assert.Equal("process limit request 1000 is not within this worker's maximum of 512",
            options.ResolveLimits(new ResourceRequest(Pids: 1000), out _));
    }

    [Fact]
    public void A_job_gets_network_only_when_it_asks_and_the_worker_allows_one()
    {
        var closed = new DockerRuntimeOptions { WorkRoot = "/tmp", WorkerId = "w" };
        var open = closed with { Network = "bridge" };

        // Not asking: no network, whatever the operator allows.
        Assert.Null(closed.ResolveNetwork(asked: false, out var none));
        Assert.Equal("none", none);
        Assert.Null(open.ResolveNetwork(asked: false, out var stillNone));
        Assert.Equal("none", stillNone);
        // Asking: the operator's network, or a refusal that says why.
        Assert.Null(open.ResolveNetwork(asked: true, out var granted));
        Assert.Equal("bridge", granted);
        Assert.Equal("the job asks for network, and this worker allows none (DOCKER_NETWORK=none)",
            closed.ResolveNetwork(asked: true, out var refused));
        Assert.Equal("none", refused);
    }

    [Fact]
    public void A_job_runs_as_root_only_when_it_asks_and_the_worker_allows_root()
    {
        var closed = new DockerRuntimeOptions { WorkRoot = "/tmp", WorkerId = "w", User = "1000:1000" };
        var open = closed with { AllowRoot = true };

        // Not asking: the operator's user, whatever the operator allows.
        Assert.Null(closed.ResolveUser(asksRoot: false, out var user));
        Assert.Equal("1000:1000", user);
        Assert.Null(open.ResolveUser(asksRoot: false, out var stillUser));
        Assert.Equal("1000:1000", stillUser);
        // Asking: root, or a refusal that says why.
        Assert.Null(open.ResolveUser(asksRoot: true, out var root));
        Assert.Equal("0:0", root);
        Assert.Equal("the job asks to run as root, and this worker does not allow it (DOCKER_ALLOW_ROOT=false)",
            closed.ResolveUser(asksRoot: true, out var refused));
        Assert.Equal("1000:1000", refused);
    }

    [Fact]
    public void DOCKER_ALLOW_ROOT_lets_jobs_that_ask_run_as_root_while_others_keep_DOCKER_USER()
    {
        Assert.NotNull(Read([]).Docker!.ResolveUser(asksRoot: true, out _));
        var docker = Read(new() { ["DOCKER_ALLOW_ROOT"] = "true" }).Docker!;

        Assert.Equal("65534:65534", docker.User);
        Assert.Null(docker.ResolveUser(asksRoot: true, out var user));
        Assert.Equal("0:0", user);
        Assert.Null(docker.ResolveUser(asksRoot: false, out user));
        Assert.Equal("65534:65534", user);
    }

    [Fact]
    public void DOCKER_NETWORK_names_the_network_for_jobs_that_ask()
    {
        Assert.Equal("none", Read([]).Docker!.Network);
        var docker = Read(new() { ["DOCKER_NETWORK"] = "jobs-egress" }).Docker!;

        Assert.Equal("jobs-egress", docker.Network);
        Assert.Null(docker.ResolveNetwork(asked: true, out var network));
        Assert.Equal("jobs-egress", network);
        Assert.Null(docker.ResolveNetwork(asked: false, out network));
        Assert.Equal("none", network);
    }

    [Theory]
    [InlineData("64m", 64L << 20)]
    [InlineData("64MiB", 64L << 20)]
    [InlineData("64 MB", 64L << 20)]
    [InlineData("1g", 1L << 30)]
    [InlineData("1.5G", 3L << 29)]
    [InlineData("512k", 512L << 10)]
    [InlineData("4096", 4096)]
    public void Sizes_read_like_docker_run_reads_them(string text, long bytes)
    {
        Assert.True(ByteSize.TryParse(text, out var parsed));
        Assert.Equal(bytes, parsed);
    }

    [Theory]
    [InlineData("")]
    [InlineData("m")]
    [InlineData("-1m")]
    [InlineData("12 parsecs")]
    [InlineData("99999999999t")]
    public void Nonsense_sizes_are_refused(string text) => Assert.False(ByteSize.TryParse(text, out _));

    [Theory]
    [InlineData(16L << 20, "16 MiB")]
    [InlineData(3L << 29, "1.5 GiB")]
    [InlineData(512L << 10, "512 KiB")]
    [InlineData(100, "100 bytes")]
    public void Sizes_are_written_for_people(long bytes, string text) => Assert.Equal(text, ByteSize.Format(bytes));

    [Theory]
    [InlineData("busybox", "busybox", "latest")]
    [InlineData("busybox:1.36", "busybox", "1.36")]
    [InlineData("localhost:5000/team/app", "localhost:5000/team/app", "latest")]
    [InlineData("localhost:5000/team/app:v2", "localhost:5000/team/app", "v2")]
    [InlineData("app@sha256:abc", "app", "sha256:abc")]
    public void Image_references_are_split_so_that_a_pull_never_fetches_every_tag(string image, string repository, string tag)
    {
        Assert.Equal((repository, tag), ImageSource.Split(image));
    }
}
