using System.Globalization;
using System.Net;
using Docker.DotNet;
using Docker.DotNet.Models;
using Microsoft.Extensions.Logging;

namespace Jobplane.Worker.Runtimes.Docker;

/// <summary>
/// Runs a job as a container through the Docker Engine API. Images are untrusted: the container is
/// locked down by default (see <see cref="ContainerDefinition"/>), sees no host path but its own
/// output folder, and is always removed, whatever happened. Its output is streamed to the log sink
/// as it is produced; its exit code, OOM kill and result.json make the outcome.
/// </summary>
public sealed class DockerRuntime : IJobRuntime, IDisposable
{
    /// <summary>
    /// How long the output may go on arriving once the container has exited. The engine ends the
    /// stream as soon as it has passed the last bytes on; this only bounds a stuck connection.
    /// </summary>
    private static readonly TimeSpan DrainLimit = TimeSpan.FromSeconds(10);
    private static readonly TimeSpan RemovedWaitLimit = TimeSpan.FromSeconds(10);
    /// <summary>
    /// How long a container that died of SIGKILL by itself may keep its outcome waiting for the
    /// engine's late "oom" event (see <see cref="WasOomKilledAsync"/>). Paid only by such a
    /// container that was not OOM-killed: a job that SIGKILLed itself.
    /// </summary>
    private static readonly TimeSpan LateOomEventLimit = TimeSpan.FromSeconds(5);
    /// <summary>How far before now the OOM event subscription starts: earlier is harmless, it names one container.</summary>
    private static readonly TimeSpan EventClockMargin = TimeSpan.FromMinutes(5);
    private const int KilledExitCode = 128 + LibC.SIGKILL;

    private readonly DockerRuntimeOptions _options;
    private readonly ILogger<DockerRuntime> _logger;
    private readonly TimeProvider _time;
    private readonly DockerClient _client;
    private readonly ImageSource _images;
    /// <summary>{WorkRoot}/{WorkerId}: every attempt's output folder lives below it.</summary>
    private readonly string _workerRoot;
    /// <summary>Size of the tmpfs mounted on each output folder; 0 when output folders are not bounded.</summary>
    private readonly long _boundBytes;

    public DockerRuntime(DockerRuntimeOptions options, ILogger<DockerRuntime> logger, TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(logger);
        ArgumentNullException.ThrowIfNull(time);
        RuntimeGuards.CheckShared(options.WorkRoot, options.WorkerId, options.KillGrace, options.MaxLineChars, nameof(options));
        if (options.Validate() is { } problem) throw new ArgumentException(problem, nameof(options));

        _options = options;
        _logger = logger;
        _time = time;
        _workerRoot = Path.Combine(Path.GetFullPath(options.WorkRoot), options.WorkerId);
        _client = new DockerClientBuilder().WithEndpoint(options.Endpoint).Build();
        _images = new ImageSource(_client, options, logger, time);
        if (options.OutputMaxBytes > 0 && BoundedFolder.CanMount)
        {
            BoundedFolder.Probe(_workerRoot, "DOCKER_OUTPUT_MAX_BYTES");
            _boundBytes = options.OutputMaxBytes;
            DockerRuntimeLog.OutputBounded(_logger, ByteSize.Format(_boundBytes));
        }
        else
        {
            DockerRuntimeLog.OutputNotBounded(_logger, LibC.EffectiveUserId, Path.GetFullPath(options.WorkRoot));
        }
    }

    public string Name => "docker";

    /// <inheritdoc/>
    public Api.WorkerCapabilities Capabilities => _options.Capabilities;

    public void Dispose() => _client.Dispose();

    public async Task<RunOutcome> RunAsync(RunSpec spec, ILogSink logs, CancellationToken stop, CancellationToken kill = default)
    {
        ArgumentNullException.ThrowIfNull(spec);
        ArgumentNullException.ThrowIfNull(logs);
        var invalid = Validate(spec);
        if (invalid is not null) return Refused(invalid);
        // What the job asks for, within the operator's maximums: asking for more than this worker
        // grants fails the attempt without retry, as another attempt would ask for the same.
        var refusedLimits = _options.ResolveLimits(spec.Resources, out var limits);
        if (refusedLimits is not null) return Refused(refusedLimits);
        var refusedNetwork = _options.ResolveNetwork(spec.Network, out var network);
        if (refusedNetwork is not null) return Refused(refusedNetwork);
        // Root only where the operator allows it; elsewhere every attempt would be refused the same
        // way, so the attempt fails without retry rather than quietly running as another user.
        var refusedUser = _options.ResolveUser(spec.RunAsRoot, out var user);
        if (refusedUser is not null) return Refused(refusedUser);
        if (stop.IsCancellationRequested) return Stopped(exitCode: null);

        ImageSource.Problem? imageProblem;
        try
        {
            imageProblem = await _images.EnsureAsync(spec.Image, hasNetwork: network != DockerRuntimeOptions.NoNetwork, stop);
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            return Stopped(exitCode: null);
        }
        if (imageProblem is not null) return new RunOutcome { Error = imageProblem.Error, Retryable = imageProblem.Retryable };

        var outputFolder = Path.Combine(_workerRoot,
            string.Create(CultureInfo.InvariantCulture, $"{spec.ExecutionId:D}-{spec.Attempt}"));
        // The folder belongs to whoever the container runs as: the operator's user, or root.
        DockerRuntimeOptions.TryParseUser(user, out var uid, out var gid);
        OutputFolder.Create(outputFolder, (uint)uid, (uint)gid);
        var bounded = false;
        try
        {
            if (_boundBytes > 0)
            {
                // The engine bind-mounts this tmpfs into the container: past the bound the job's
                // writes fail with ENOSPC and the host disk never grows. The worker, not the engine,
                // holds the mount, so result.json is still there once the container has exited.
                BoundedFolder.Mount(outputFolder, _boundBytes, (uint)uid, (uint)gid);
                bounded = true;
            }
            return await RunContainerAsync(spec, limits, network, user, outputFolder, logs, stop, kill);
        }
        finally
        {
            if (bounded)
            {
                try
                {
                    // The container is removed by now; lazy if anything still holds the folder.
                    BoundedFolder.Unmount(outputFolder);
                }
                catch (IOException ex)
                {
                    DockerRuntimeLog.FolderNotUnmounted(_logger, outputFolder, ex);
                }
            }
            try
            {
                WorkDirectory.Delete(outputFolder);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                // Not worth failing the attempt over; the next orphan cleanup tries again.
                DockerRuntimeLog.FolderNotRemoved(_logger, outputFolder, ex);
            }
        }
    }

    private async Task<RunOutcome> RunContainerAsync(
        RunSpec spec, ContainerLimits limits, string network, string user, string outputFolder, ILogSink logs, CancellationToken stop, CancellationToken kill)
    {
        string id;
        try
        {
            var created = await _client.Containers.CreateContainerAsync(
                ContainerDefinition.Build(spec, _options, limits, network, user, outputFolder), CancellationToken.None);
            id = created.ID;
        }
        catch (DockerApiException e) when (e.StatusCode is HttpStatusCode.BadRequest)
        {
            // The engine's words can name the worker's own paths: the operator reads them, the tenant does not.
            DockerRuntimeLog.ContainerRefused(_logger, spec.ExecutionId, spec.Attempt, "created", DockerApiErrors.MessageOf(e));
            return Refused("the container cannot be created from this job's settings (the worker's log has the engine's reason)");
        }

        // Subscribed before it starts, so that an OOM kill is heard whenever the engine reports it.
        await using var oom = OomWatch.Start(_client, id, _time.GetUtcNow() - EventClockMargin);
        Task<ContainerWaitResponse>? exited = null;
        try
        {
            // Attached before it starts, so that not even the first byte of output is missed.
            var stream = await _client.Containers.AttachContainerAsync(id,
                new ContainerAttachParameters { Stream = true, Stdout = true, Stderr = true }, CancellationToken.None);
            var output = new ContainerOutput(stream, logs, _options.MaxLineChars);
            try
            {
                try
                {
                    await _client.Containers.StartContainerAsync(id, new ContainerStartParameters(), CancellationToken.None);
                }
                catch (DockerApiException e) when (e.StatusCode is HttpStatusCode.BadRequest)
                {
                    // The engine refuses what can never run: a command not in the image, a bad user.
                    DockerRuntimeLog.ContainerRefused(_logger, spec.ExecutionId, spec.Attempt, "started", DockerApiErrors.MessageOf(e));
                    return Refused("the container cannot be started from this job's image and command (the worker's log has the engine's reason)");
                }
                DockerRuntimeLog.Started(_logger, spec.ExecutionId, spec.Attempt, id, spec.Image);
                exited = _client.Containers.WaitContainerAsync(id, CancellationToken.None);

                var ending = await WaitForEndAsync(spec, id, exited, output.Faulted, stop, kill);
                if (!await output.DrainAsync(DrainLimit, _time))
                    DockerRuntimeLog.OutputNotEnded(_logger, spec.ExecutionId, spec.Attempt, OutcomeText.FormatDuration(DrainLimit));
                output.ThrowIfFaulted();

                var state = (await _client.Containers.InspectContainerAsync(id, CancellationToken.None)).State
                    ?? throw new InvalidOperationException($"the Docker Engine reported no state for container {id}");
                var oomKilled = await WasOomKilledAsync(ending, (int)state.ExitCode, state.OOMKilled, oom);
                return BuildOutcome(spec, ending, (int)state.ExitCode, oomKilled, limits, outputFolder);
            }
            finally
            {
                output.Abandon();
            }
        }
        finally
        {
            // Also on a worker-side exception: no container outlives its attempt.
            await RemoveAsync(id);
            if (exited is not null)
            {
                try
                {
                    await exited.WaitAsync(RemovedWaitLimit, _time);
                }
                catch (Exception)
                {
                    // A wait cut short by the removal, or a connection that failed: nothing left to learn.
                }
            }
        }
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
    /// start, counts as well; and a container that died of SIGKILL (what the kernel's OOM killer
    /// sends to its init) without either yet waits a bounded time for that late event.
    /// </summary>
    private async Task<bool> WasOomKilledAsync(Ending ending, int exitCode, bool stateOomKilled, OomWatch oom)
    {
        if (stateOomKilled || oom.Seen) return true;
        // A container the worker stopped or timed out is reported as such, whatever killed it.
        if (ending != Ending.Exited || exitCode != KilledExitCode) return false;
        return await oom.WaitAsync(LateOomEventLimit, _time);
    }

    private enum Ending
    {
        Exited,
        TimedOut,
        Stopped,
    }

    private async Task<Ending> WaitForEndAsync(
        RunSpec spec, string id, Task<ContainerWaitResponse> exited, CancellationToken faulted, CancellationToken stop, CancellationToken kill)
    {
        using var timeout = RuntimeGuards.TimeoutSource(spec.Timeout, _time);
        using var end = CancellationTokenSource.CreateLinkedTokenSource(stop, timeout.Token, faulted);
        try
        {
            await exited.WaitAsync(end.Token);
            return Ending.Exited;
        }
        catch (OperationCanceledException) when (end.IsCancellationRequested)
        {
            // Timeout, stop or a broken output stream: handled below.
        }

        // The container ended by itself at the same moment: it was neither timed out nor stopped.
        if (exited.IsCompletedSuccessfully) return Ending.Exited;
        if (faulted.IsCancellationRequested)
        {
            // The worker itself is failing; the caller gets the exception, the job no grace.
            await SignalAsync(id, "SIGKILL");
            await exited;
            return Ending.Exited;
        }

        Ending ending;
        if (stop.IsCancellationRequested)
        {
            ending = Ending.Stopped;
            DockerRuntimeLog.Stopping(_logger, spec.ExecutionId, spec.Attempt, id);
        }
        else
        {
            ending = Ending.TimedOut;
            DockerRuntimeLog.TimingOut(_logger, spec.ExecutionId, spec.Attempt, OutcomeText.FormatDuration(spec.Timeout), id);
        }
        await TerminateAsync(id, exited, kill);
        return ending;
    }

    /// <summary>
    /// SIGTERM (the container's init passes it on to the job), then SIGKILL once the grace period
    /// is over; SIGKILL at once (or as soon as it is asked for during the grace period) when
    /// <paramref name="kill"/> is cancelled. Killing the init ends everything in the container.
    /// </summary>
    private async Task TerminateAsync(string id, Task<ContainerWaitResponse> exited, CancellationToken kill)
    {
        if (!kill.IsCancellationRequested)
        {
            await SignalAsync(id, "SIGTERM");
            using var graceTimer = new CancellationTokenSource(_options.KillGrace, _time);
            using var grace = CancellationTokenSource.CreateLinkedTokenSource(graceTimer.Token, kill);
            try
            {
                await exited.WaitAsync(grace.Token);
                return;
            }
            catch (OperationCanceledException) when (grace.IsCancellationRequested)
            {
                // Grace period over, or a kill was asked for.
            }
        }
        DockerRuntimeLog.Killing(_logger, id, OutcomeText.FormatDuration(kill.IsCancellationRequested ? TimeSpan.Zero : _options.KillGrace));
        await SignalAsync(id, "SIGKILL");
        await exited;
    }

    private async Task SignalAsync(string id, string signal)
    {
        try
        {
            await _client.Containers.KillContainerAsync(id, new ContainerKillParameters { Signal = signal }, CancellationToken.None);
        }
        catch (DockerApiException e) when (e.StatusCode is HttpStatusCode.Conflict or HttpStatusCode.NotFound)
        {
            // Exited meanwhile ("is not running"): nothing left to signal.
        }
    }

    private async Task<bool> RemoveAsync(string id)
    {
        try
        {
            await _client.Containers.RemoveContainerAsync(id,
                new ContainerRemoveParameters { Force = true, RemoveVolumes = true }, CancellationToken.None);
            return true;
        }
        catch (DockerContainerNotFoundException)
        {
            return true;
        }
        catch (Exception ex) when (ex is DockerApiException or HttpRequestException or IOException)
        {
            DockerRuntimeLog.ContainerNotRemoved(_logger, id, ex);
            return false;
        }
    }

    private RunOutcome BuildOutcome(RunSpec spec, Ending ending, int exitCode, bool oomKilled, ContainerLimits limits, string outputFolder)
    {
        switch (ending)
        {
            case Ending.TimedOut:
                return new RunOutcome { ExitCode = exitCode, TimedOut = true, Error = OutcomeText.TimedOut(spec.Timeout), Retryable = true };
            case Ending.Stopped:
                return Stopped(exitCode);
        }

        var exitError = exitCode == 0 ? null : OutcomeText.DescribeExit(exitCode);
        if (oomKilled)
        {
            // The engine reports any OOM kill in the container, of the job's main process or of a
            // child the job survived; a job that still exited 0 succeeded.
            var outOfMemory = $"out of memory (limit {ByteSize.Format(limits.MemoryBytes)})";
            if (exitCode == KilledExitCode) exitError = $"killed: {outOfMemory}";
            else if (exitCode != 0) exitError = $"{exitError} after a process of the job was killed: {outOfMemory}";
            else DockerRuntimeLog.OomButSucceeded(_logger, spec.ExecutionId, spec.Attempt, ByteSize.Format(limits.MemoryBytes));
        }

        // Only a container that ended by itself has a trustworthy result.json.
        var result = ResultFile.Read(outputFolder);
        if (result.Error is not null)
        {
            return new RunOutcome
            {
                ExitCode = exitCode,
                Error = exitError is null ? result.Error : $"{exitError}; {result.Error}",
                // The same job would write the same refused file again.
                Retryable = false,
            };
        }
        return new RunOutcome { ExitCode = exitCode, Error = exitError, Result = result.Result, Retryable = true };
    }

    private static RunOutcome Stopped(int? exitCode) =>
        new() { ExitCode = exitCode, Stopped = true, Error = OutcomeText.StoppedError, Retryable = true };

    private static RunOutcome Refused(string error) => new() { Error = error, Retryable = false };

    /// <summary>Problems with the spec itself, which no retry can fix.</summary>
    private static string? Validate(RunSpec spec)
    {
        if (string.IsNullOrWhiteSpace(spec.Image)) return "image is empty: the docker runtime needs an image to run";
        if (spec.Image.Any(c => char.IsWhiteSpace(c) || char.IsControl(c)))
            return $"image '{spec.Image}' is not a valid image reference";
        var command = spec.Command ?? [];
        for (var i = 0; i < command.Count; i++)
        {
            if (command[i] is null) return $"command element {i} is null";
            if (command[i].Contains('\0')) return $"command element {i} contains a NUL character";
        }
        if (spec.Timeout <= TimeSpan.Zero && spec.Timeout != Timeout.InfiniteTimeSpan)
            return $"timeout must be positive (got {OutcomeText.FormatDuration(spec.Timeout)})";
        foreach (var (name, value) in spec.ExtraEnvironment ?? new Dictionary<string, string>())
        {
            if (name.Length == 0 || name.AsSpan().IndexOfAny('=', '\0') >= 0)
                return $"environment variable name '{name}' is invalid";
            if (value is null || value.Contains('\0'))
                return $"environment variable '{name}' has an invalid value";
        }
        return null;
    }

    public async Task CleanupOrphansAsync(CancellationToken ct)
    {
        // The worker holds the lock on its id: nothing of this worker is running now, so every
        // container carrying its id was left by a previous life. Their executions are rescued by
        // lease expiry; the containers themselves only hold resources.
        var orphans = await _client.Containers.ListContainersAsync(
            new ContainersListParameters { All = true, Filters = ContainerLabels.OfWorker(_options.WorkerId) }, ct);
        var removed = 0;
        foreach (var orphan in orphans)
        {
            ct.ThrowIfCancellationRequested();
            if (!await RemoveAsync(orphan.ID)) continue;
            removed++;
            DockerRuntimeLog.OrphanContainerRemoved(_logger, orphan.ID,
                LabelOf(orphan, ContainerLabels.Execution), LabelOf(orphan, ContainerLabels.Attempt), _options.WorkerId);
        }

        // A worker that died mid-attempt left its bounded output folders mounted; their containers are gone now.
        var unmounted = BoundedFolder.UnmountAllBelow(_workerRoot);
        if (unmounted > 0) DockerRuntimeLog.OrphanMountsRemoved(_logger, unmounted, _options.WorkerId);
        var folders = 0;
        var leftovers = WorkDirectory.FindLeftovers(_workerRoot, MadeByWorker);
        foreach (var (entry, reason) in leftovers.Skipped) DockerRuntimeLog.LeftoverSkipped(_logger, _options.WorkerId, entry, reason);
        foreach (var entry in leftovers.Removable)
        {
            ct.ThrowIfCancellationRequested();
            try
            {
                WorkDirectory.Delete(entry);
                folders++;
                DockerRuntimeLog.OrphanFolderRemoved(_logger, entry, _options.WorkerId);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                DockerRuntimeLog.FolderNotRemoved(_logger, entry, ex);
            }
        }
        DockerRuntimeLog.OrphanCleanupDone(_logger, _options.WorkerId, removed, folders);
    }

    /// <summary>The owners an output folder can have: the worker itself, or the user its containers run as.</summary>
    private bool MadeByWorker(uint owner)
    {
        if (owner == LibC.EffectiveUserId) return true;
        if (DockerRuntimeOptions.TryParseUser(_options.User, out var uid, out _) && owner == uid) return true;
        return _options.AllowRoot && owner == 0;
    }

    private static string LabelOf(ContainerListResponse container, string label) =>
        container.Labels is not null && container.Labels.TryGetValue(label, out var value) ? value : "?";
}
