using System.Net;
using Docker.DotNet;
using Docker.DotNet.Models;
using Microsoft.Extensions.Logging;

namespace Jobplane.Worker.Runtimes.Docker;

/// <summary>
/// One docker attempt: a started container, attached and watched for OOM kills since before it
/// started. Killing its init ends everything in the container; disposing it removes the container.
/// </summary>
internal sealed class ContainerUnit : IRuntimeUnit
{
    /// <summary>
    /// How long the output may go on arriving once the container has exited. The engine ends the
    /// stream as soon as it has passed the last bytes on; this only bounds a stuck connection.
    /// </summary>
    private static readonly TimeSpan DrainLimit = TimeSpan.FromSeconds(10);
    /// <summary>
    /// How long in all the output may go on arriving after the container ended, while it does: its
    /// log is finite, and a busy machine can take longer than <see cref="DrainLimit"/> to read a large one.
    /// </summary>
    private static readonly TimeSpan DrainWhileArriving = TimeSpan.FromMinutes(5);
    private static readonly TimeSpan RemovedWaitLimit = TimeSpan.FromSeconds(10);
    /// <summary>
    /// How long a container that died of SIGKILL by itself may keep its outcome waiting for the
    /// engine's late "oom" event when the kernel's log cannot settle it (see
    /// <see cref="WasOomKilledAsync"/>). Paid only by such a container that was not OOM-killed: a
    /// job that SIGKILLed itself, on a worker that cannot read the engine's kernel log. 5 s was not enough on a loaded
    /// machine (the engine publishes the event after it has finished handling the exit, and under a
    /// load average of 25 on 2 cores that took longer): out-of-memory kills were then reported as
    /// plain SIGKILLs in two of five full test runs.
    /// </summary>
    private static readonly TimeSpan LateOomEventLimit = TimeSpan.FromSeconds(20);

    private readonly DockerClient _client;
    private readonly string _id;
    private readonly OomWatch _oom;
    private readonly ContainerOutput _output;
    private Task<ContainerWaitResponse>? _exited;
    private readonly RunSpec _spec;
    private readonly ContainerLimits _limits;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;

    /// <summary>Takes over a created container, its OOM watch and its output; disposing it removes them, started or not.</summary>
    public ContainerUnit(DockerClient client, string id, OomWatch oom, ContainerOutput output,
        RunSpec spec, ContainerLimits limits, ILogger logger, TimeProvider time)
    {
        _client = client;
        _id = id;
        _oom = oom;
        _output = output;
        _spec = spec;
        _limits = limits;
        _logger = logger;
        _time = time;
    }

    /// <summary>The engine started it: from now on its exit is waited for.</summary>
    public void Started() => _exited = _client.Containers.WaitContainerAsync(_id, CancellationToken.None);

    public string Description => $"container {_id}";

    public Task Exited => _exited ?? throw new InvalidOperationException("the container was never started");

    public CancellationToken OutputFaulted => _output.Faulted;

    public async Task SignalAsync(UnitSignal signal) => await SignalAsync(_client, _id, signal == UnitSignal.Kill ? "SIGKILL" : "SIGTERM");

    public async Task FinishOutputAsync()
    {
        if (!await _output.DrainAsync(DrainLimit, _time, DrainWhileArriving))
            RuntimeLog.OutputNotEnded(_logger, _spec.ExecutionId, _spec.Attempt, OutcomeText.FormatDuration(DrainLimit));
        _output.ThrowIfFaulted();
    }

    public async Task<UnitExit> CollectAsync(bool endedByItself)
    {
        var state = (await _client.Containers.InspectContainerAsync(_id, CancellationToken.None)).State
            ?? throw new InvalidOperationException($"the Docker Engine reported no state for container {_id}");
        var exitCode = (int)state.ExitCode;
        var exit = UnitExit.Of(exitCode);
        if (!await WasOomKilledAsync(endedByItself, exitCode, state.OOMKilled)) return exit;

        // The engine reports any OOM kill in the container, of the job's main process or of a
        // child the job survived; a job that still exited 0 succeeded.
        if (OutcomeText.OutOfMemory(exitCode, _limits.MemoryBytes) is { } outOfMemory) return exit with { Error = outOfMemory };
        DockerRuntimeLog.OomButSucceeded(_logger, _spec.ExecutionId, _spec.Attempt, ByteSize.Format(_limits.MemoryBytes));
        return exit;
    }

    /// <summary>
    /// Whether the container was OOM-killed. Its <c>State.OOMKilled</c> is not enough: the engine
    /// (dockerd 20.10 with containerd's shim, cgroup v1 here) learns of an OOM kill from a TaskOOM
    /// event and of the exit from a TaskExit event, which the shim sends from two independent
    /// goroutines (the cgroup's OOM eventfd watcher and the process reaper). The engine copies
    /// "OOM seen" into the state only when the exit is handled, so when TaskExit overtakes TaskOOM
    /// (a loaded machine is enough) the container is recorded as stopped with OOMKilled false for
    /// good, the wait returns, and the later OOM is only logged as the container's "oom" event.
    /// Reading the state again cannot help, and the cgroup (memory.oom_control, memory.failcnt) is
    /// already deleted once the wait returns. So the "oom" event, listened for since before the
    /// start, counts as well. Worse, containerd's shim drops that event altogether when the cgroup
    /// is gone before its watcher runs, so for a container that died of SIGKILL (what the kernel's
    /// OOM killer sends to its init) without either, the kernel's own log decides
    /// (<see cref="KernelOomLog"/>); where it cannot settle it, a bounded wait for the late event is
    /// what is left.
    /// </summary>
    private async Task<bool> WasOomKilledAsync(bool endedByItself, int exitCode, bool stateOomKilled)
    {
        if (stateOomKilled || _oom.Seen) return true;
        // A container the worker stopped or timed out is reported as such, whatever killed it.
        if (!endedByItself || exitCode != OutcomeText.KilledExitCode) return false;
        return await _oom.DecideAsync(LateOomEventLimit, _time);
    }

    public async ValueTask DisposeAsync()
    {
        _output.Abandon();
        // Also on a worker-side exception: no container outlives its attempt.
        await RemoveAsync(_client, _id, _logger);
        if (_exited is not null)
        {
            try
            {
                await _exited.WaitAsync(RemovedWaitLimit, _time);
            }
            catch (Exception)
            {
                // A wait cut short by the removal, or a connection that failed: nothing left to learn.
            }
        }
        await _oom.DisposeAsync();
    }

    private static async Task SignalAsync(DockerClient client, string id, string signal)
    {
        try
        {
            await client.Containers.KillContainerAsync(id, new ContainerKillParameters { Signal = signal }, CancellationToken.None);
        }
        catch (DockerApiException e) when (e.StatusCode is HttpStatusCode.Conflict or HttpStatusCode.NotFound)
        {
            // Exited meanwhile ("is not running"): nothing left to signal.
        }
    }

    /// <summary>Removes a container, whatever its state; false (and logged) when the engine could not.</summary>
    public static async Task<bool> RemoveAsync(DockerClient client, string id, ILogger logger)
    {
        try
        {
            await client.Containers.RemoveContainerAsync(id,
                new ContainerRemoveParameters { Force = true, RemoveVolumes = true }, CancellationToken.None);
            return true;
        }
        catch (DockerContainerNotFoundException)
        {
            return true;
        }
        catch (Exception ex) when (ex is DockerApiException or HttpRequestException or IOException)
        {
            DockerRuntimeLog.ContainerNotRemoved(logger, id, ex);
            return false;
        }
    }
}
