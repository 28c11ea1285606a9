using System.Globalization;
using Jobplane.Testing;
using Jobplane.Worker.Runtimes;
using Jobplane.Worker.Runtimes.Docker;
using Jobplane.Worker.Tests.Exec;

namespace Jobplane.Worker.Tests.Docker;

/// <summary>
/// One docker runtime on the real test engine, with a private WorkRoot and a unique worker id, so
/// that tests can run in parallel without seeing each other's containers or folders. Disposing it
/// checks what a user would: no container of this worker is left on the engine.
/// </summary>
internal sealed class DockerHarness : IAsyncDisposable
{
    public DockerHarness(Func<DockerRuntimeOptions, DockerRuntimeOptions>? configure = null)
    {
        WorkRoot = Directory.CreateTempSubdirectory("jobplane-docker-").FullName;
        WorkerId = "test-" + Guid.NewGuid().ToString("N")[..12];
        var options = new DockerRuntimeOptions
        {
            WorkRoot = WorkRoot,
            WorkerId = WorkerId,
            Endpoint = new Uri(TestDocker.Host),
            KillGrace = TimeSpan.FromSeconds(1),
            DefaultLimits = new ContainerLimits { MemoryBytes = 64L << 20, Cpus = 1, Pids = 64 },
            MaxLimits = new ContainerLimits { MemoryBytes = 64L << 20, Cpus = 1, Pids = 64 },
        };
        Options = configure is null ? options : configure(options);
        Runtime = new AttemptSupervisor(new DockerRuntime(Options, Logger, TimeProvider.System), Logger, TimeProvider.System);
    }

    public string WorkRoot { get; }
    public string WorkerId { get; }
    public DockerRuntimeOptions Options { get; }
    public ListLogger<DockerRuntime> Logger { get; } = new();
    public AttemptSupervisor Runtime { get; }

    public static RunSpec Spec(
        IReadOnlyList<string> command,
        TimeSpan? timeout = null,
        IReadOnlyDictionary<string, string>? environment = null,
        string image = TestDocker.Image) =>
        new(Guid.NewGuid(), Guid.NewGuid(), 1, image, command,
            timeout ?? TimeSpan.FromSeconds(60), environment ?? new Dictionary<string, string>());

    public static RunSpec Shell(string script, TimeSpan? timeout = null) => Spec(["sh", "-c", script], timeout);

    public string OutputFolderOf(RunSpec spec) =>
        Path.Combine(WorkRoot, WorkerId, string.Create(CultureInfo.InvariantCulture, $"{spec.ExecutionId:D}-{spec.Attempt}"));

    public async Task<(RunOutcome Outcome, CollectingLogSink Logs)> RunAsync(
        RunSpec spec, CancellationToken stop = default, CancellationToken kill = default)
    {
        var logs = new CollectingLogSink();
        var outcome = await Runtime.RunAsync(spec, logs, stop, kill);
        return (outcome, logs);
    }

    /// <summary>The containers of one execution still on the engine, as `docker ps -a --filter label=...` shows them.</summary>
    public static async Task<int> ContainersOfAsync(RunSpec spec) =>
        (await TestDocker.ContainersLabelledAsync("jobplane.execution", spec.ExecutionId.ToString("D"))).Count;

    public async ValueTask DisposeAsync()
    {
        Runtime.Dispose();
        try
        {
            Directory.Delete(WorkRoot, recursive: true);
        }
        catch (DirectoryNotFoundException)
        {
            // Already gone.
        }
        var left = await TestDocker.ContainersLabelledAsync("jobplane.worker", WorkerId);
        Assert.True(left.Count == 0, $"{left.Count} container(s) of worker {WorkerId} left on the engine: {string.Join(", ", left.Select(c => c.ID))}");
    }
}
