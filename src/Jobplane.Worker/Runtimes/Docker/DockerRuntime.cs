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
public sealed class DockerRuntime : IRuntimeDriver, IDisposable
{
    /// <summary>How far before now the OOM event subscription starts: earlier is harmless, it names one container.</summary>
    private static readonly TimeSpan EventClockMargin = TimeSpan.FromMinutes(5);

    private readonly DockerRuntimeOptions _options;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly DockerClient _client;
    private readonly ImageSource _images;
    /// <summary>{WorkRoot}/{WorkerId}: every attempt's output folder lives below it.</summary>
    private readonly string _workerRoot;
    /// <summary>Size of the tmpfs mounted on each output folder; 0 when output folders are not bounded.</summary>
    private readonly long _boundBytes;
    /// <summary>Whether the engine runs on this worker's kernel; asked once, the first time an OOM kill is in doubt.</summary>
    private readonly Lazy<Task<bool>> _sharesKernel;

    public DockerRuntime(DockerRuntimeOptions options, ILogger logger, TimeProvider time)
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
        _sharesKernel = new Lazy<Task<bool>>(SharesKernelAsync);
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

    /// <summary>
    /// An engine reached through a unix socket whose kernel release is this worker's own is taken to
    /// run on this kernel: the engine's API cannot prove more. An engine in a virtual machine behind a
    /// forwarded socket reports the VM's kernel, which differs, and a remote one is reached over TCP;
    /// either way the worker then does not trust the absence of a record in its own kernel's log.
    /// </summary>
    private async Task<bool> SharesKernelAsync()
    {
        if (_options.Endpoint.Scheme != "unix") return false;
        try
        {
            var engine = await _client.System.GetSystemInfoAsync(CancellationToken.None);
            var ours = (await File.ReadAllTextAsync("/proc/sys/kernel/osrelease", CancellationToken.None)).Trim();
            return string.Equals(engine.KernelVersion, ours, StringComparison.Ordinal);
        }
        catch (Exception ex) when (ex is DockerApiException or HttpRequestException or IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    public const string RuntimeName = "docker";

    public string Name => RuntimeName;

    public string WorkerRoot => _workerRoot;

    public TimeSpan KillGrace => _options.KillGrace;

    /// <inheritdoc/>
    public Api.WorkerCapabilities Capabilities => _options.Capabilities;

    public void Dispose() => _client.Dispose();

    public string? Validate(RunSpec spec)
    {
        if (RuntimeGuards.ImageProblem(spec.Image, RuntimeName) is { } imageProblem) return imageProblem;
        // What the job asks for, within the operator's maximums: asking for more than this worker
        // grants fails the attempt without retry, as another attempt would ask for the same.
        // Root only where the operator allows it; elsewhere every attempt would be refused the same
        // way, so the attempt fails without retry rather than quietly running as another user.
        return _options.ResolveLimits(spec.Resources, out _)
            ?? _options.ResolveNetwork(spec.Network, out _)
            ?? _options.ResolveUser(spec.RunAsRoot, out _);
    }

    public async Task<UnitStart> StartAsync(RunSpec spec, AttemptFolder folder, ILogSink logs, CancellationToken stop)
    {
        _options.ResolveLimits(spec.Resources, out var limits);
        _options.ResolveNetwork(spec.Network, out var network);
        _options.ResolveUser(spec.RunAsRoot, out var user);
        var imageProblem = await _images.EnsureAsync(spec.Image, hasNetwork: network != DockerRuntimeOptions.NoNetwork, stop);
        if (imageProblem is not null) return UnitStart.NotStarted(new RunOutcome { Error = imageProblem.Error, Retryable = imageProblem.Retryable });

        // The folder belongs to whoever the container runs as: the operator's user, or root.
        DockerRuntimeOptions.TryParseUser(user, out var uid, out var gid);
        OutputFolder.Create(folder.Path, (uint)uid, (uint)gid);
        // The engine bind-mounts this tmpfs into the container. The worker, not the engine, holds
        // the mount, so result.json is still there once the container has exited.
        if (_boundBytes > 0) folder.Bound(_boundBytes, (uint)uid, (uint)gid);

        string id;
        try
        {
            var created = await _client.Containers.CreateContainerAsync(
                ContainerDefinition.Build(spec, _options, limits, network, user, folder.Path), CancellationToken.None);
            id = created.ID;
        }
        catch (DockerApiException e) when (e.StatusCode is HttpStatusCode.BadRequest)
        {
            // The engine's words can name the worker's own paths: the operator reads them, the tenant does not.
            DockerRuntimeLog.ContainerRefused(_logger, spec.ExecutionId, spec.Attempt, "created", DockerApiErrors.MessageOf(e));
            return UnitStart.Refused("the container cannot be created from this job's settings (the worker's log has the engine's reason)");
        }

        // Subscribed before it starts, so that an OOM kill is heard whenever the engine reports it.
        var oom = OomWatch.Start(_client, id, _time.GetUtcNow() - EventClockMargin, _sharesKernel);
        MultiplexedStream stream;
        try
        {
            // Attached before it starts, so that not even the first byte of output is missed.
            stream = await _client.Containers.AttachContainerAsync(id,
                new ContainerAttachParameters { Stream = true, Stdout = true, Stderr = true }, CancellationToken.None);
        }
        catch
        {
            await ContainerUnit.RemoveAsync(_client, id, _logger);
            await oom.DisposeAsync();
            throw;
        }
        var unit = new ContainerUnit(_client, id, oom, new ContainerOutput(stream, logs, _options.MaxLineChars), spec, limits, _logger, _time);
        try
        {
            await _client.Containers.StartContainerAsync(id, new ContainerStartParameters(), CancellationToken.None);
        }
        catch (DockerApiException e) when (e.StatusCode is HttpStatusCode.BadRequest)
        {
            // The engine refuses what can never run: a command not in the image, a bad user.
            await unit.DisposeAsync();
            DockerRuntimeLog.ContainerRefused(_logger, spec.ExecutionId, spec.Attempt, "started", DockerApiErrors.MessageOf(e));
            return UnitStart.Refused("the container cannot be started from this job's image and command (the worker's log has the engine's reason)");
        }
        catch
        {
            await unit.DisposeAsync();
            throw;
        }
        unit.Started();
        DockerRuntimeLog.Started(_logger, spec.ExecutionId, spec.Attempt, id, spec.Image);
        return UnitStart.Started(unit);
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
            if (!await ContainerUnit.RemoveAsync(_client, orphan.ID, _logger)) continue;
            removed++;
            DockerRuntimeLog.OrphanContainerRemoved(_logger, orphan.ID,
                LabelOf(orphan, ContainerLabels.Execution), LabelOf(orphan, ContainerLabels.Attempt), _options.WorkerId);
        }

        // Their containers are gone now, so their folders can go.
        var folders = AttemptFolder.SweepLeftovers(_workerRoot, _options.WorkerId, MadeByWorker, _logger, ct);
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
