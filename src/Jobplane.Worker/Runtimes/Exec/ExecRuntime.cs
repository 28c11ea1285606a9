using System.Diagnostics;
using System.Globalization;
using System.Text;
using Microsoft.Extensions.Logging;

namespace Jobplane.Worker.Runtimes.Exec;

/// <summary>
/// Runs a job as a local process on the worker's machine. The command is an argument vector
/// handed to execve (never a shell), in a fresh private working directory, with an environment
/// built from nothing so that none of the worker's secrets reach job code, in a process group of
/// its own so that a timeout or a stop takes down everything the job started. On a root worker each
/// attempt runs as an unprivileged user of its own (<see cref="JobUserPool"/>) with no capabilities
/// and no way to gain any: it cannot read the worker's memory, environment or files, signal it, or
/// touch another attempt's folder, and whatever it leaves running is killed when the attempt ends.
/// </summary>
public sealed class ExecRuntime : IRuntimeDriver
{
    internal const string WorkerIdVariable = "JOBPLANE_WORKER_ID";
    internal const string SetprivPath = "/usr/bin/setpriv";
    /// <summary>The image that selects this runtime; any other image is a container image and never runs on the host.</summary>
    public const string ExecImage = "exec";
    internal const string JobSearchPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

    private static readonly TimeSpan OrphanRescanDelay = TimeSpan.FromMilliseconds(100);
    private const int MaxOrphanRounds = 10;

    private readonly ExecRuntimeOptions _options;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    /// <summary>{WorkRoot}/{WorkerId}: everything this worker's attempts write lives below it.</summary>
    private readonly string _workerRoot;
    /// <summary>Null when jobs run as the worker's own user (the operator accepted that).</summary>
    private readonly JobUserPool? _users;
    /// <summary>Size of the tmpfs mounted on each attempt's folder; 0 when folders are not bounded.</summary>
    private readonly long _boundBytes;

    public ExecRuntime(ExecRuntimeOptions options, ILogger logger, TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(logger);
        ArgumentNullException.ThrowIfNull(time);
        RuntimeGuards.CheckShared(options.WorkRoot, options.WorkerId, options.KillGrace, options.MaxLineChars, nameof(options));

        _options = options;
        _logger = logger;
        _time = time;
        _workerRoot = Path.Combine(Path.GetFullPath(options.WorkRoot), options.WorkerId);
        if (options.WorkDirectoryMaxBytes < 0)
            throw new ArgumentException("WorkDirectoryMaxBytes must not be negative", nameof(options));
        if (options.JobUsers is { } range)
        {
            if (LibC.EffectiveUserId != 0)
                throw new InvalidOperationException($"running exec jobs as users {range} needs a worker running as root (it runs as user {LibC.EffectiveUserId})");
            if (!File.Exists(SetprivPath))
                throw new InvalidOperationException($"the exec runtime needs {SetprivPath} (util-linux) to run jobs as another user");
            _users = new JobUserPool(range, options.UserLockDirectory);
            // Jobs reach their folders through these two; nobody but the worker may change them.
            WorkDirectory.EnsureTraversable(Path.GetFullPath(options.WorkRoot));
            WorkDirectory.EnsureTraversable(_workerRoot);
            if (options.WorkDirectoryMaxBytes > 0)
            {
                BoundedFolder.Probe(_workerRoot, "EXEC_WORKDIR_MAX_BYTES");
                _boundBytes = options.WorkDirectoryMaxBytes;
                ExecRuntimeLog.WorkDirectoryBounded(_logger, Docker.ByteSize.Format(_boundBytes));
            }
        }
        else if (options.RunAsWorkerUser)
        {
            if (LibC.EffectiveUserId == 0)
                throw new InvalidOperationException("refusing to run exec jobs as the worker's own user: the worker runs as root");
            ExecRuntimeLog.JobsRunAsWorkerUser(_logger, LibC.EffectiveUserId);
        }
        else
        {
            throw new InvalidOperationException(
                "the exec runtime must either run each job as a user of its own (a root worker with EXEC_JOB_UIDS) or be told to run jobs as the worker's own user (EXEC_RUN_AS_WORKER_USER=true)");
        }
        if (_boundBytes == 0) ExecRuntimeLog.WorkDirectoryNotBounded(_logger, LibC.EffectiveUserId, Path.GetFullPath(options.WorkRoot));
    }

    public const string RuntimeName = "exec";

    public string Name => RuntimeName;

    public string WorkerRoot => _workerRoot;

    public TimeSpan KillGrace => _options.KillGrace;

    /// <summary>Image exec only; it grants no container requests, so it announces none (they are not checked).</summary>
    public Api.WorkerCapabilities Capabilities { get; } = new() { RuntimeClasses = [Api.RuntimeClasses.Exec] };

    public string? Validate(RunSpec spec)
    {
        if (spec.Command is null || spec.Command.Count == 0) return "command is empty";
        if (spec.Command[0] is { Length: 0 }) return "command is empty: its first element names no program";
        // The claim routes container images to container workers; this is the last line of defence
        // should one ever reach an exec worker (an older controller): it never runs on the host.
        if (!string.Equals(spec.Image, ExecImage, StringComparison.Ordinal))
            return $"image '{spec.Image}' is a container image; an exec worker runs only jobs whose image is '{ExecImage}'";
        return null;
    }

    public Task<UnitStart> StartAsync(RunSpec spec, AttemptFolder folder, ILogSink logs, CancellationToken stop)
    {
        var workDirectory = folder.Path;
        var user = _users?.Acquire();
        if (user is not null) folder.Hold(user);
        if (user is null) WorkDirectory.CreateFresh(workDirectory);
        else WorkDirectory.CreateFreshFor(workDirectory, user.Uid, user.Gid);
        if (user is not null)
        {
            var sharedTemp = SharedTempLeftovers.Snapshot.Take();
            // Nothing of the attempt may be alive while its files are removed: a process still
            // running could swap a folder for a link under the worker's feet.
            folder.BeforeRemoval(() =>
            {
                user.KillEverything();
                SharedTempLeftovers.RemoveOwnedBy(user.Uid, sharedTemp);
            });
            // The job's own tmpfs: past the bound its writes fail with ENOSPC, the host disk never grows.
            if (_boundBytes > 0) folder.Bound(_boundBytes, user.Uid, user.Gid);
        }

        var environment = BuildEnvironment(spec, workDirectory);
        var program = spec.Command[0];
        var whyNot = ProgramLocator.WhyNotStartable(program, environment.GetValueOrDefault("PATH"), workDirectory);
        if (whyNot is not null) return Task.FromResult(UnitStart.Refused($"cannot start '{program}': {whyNot}"));

        var argv = new List<string>(spec.Command.Count + 9);
        if (user is not null)
        {
            // setpriv makes the job the attempt's user with no supplementary groups, no capabilities
            // (none inheritable, an empty bounding set) and no_new_privs, so that no set-user-id
            // program can give any back, then execs the job, looked up in the job's own PATH.
            argv.Add(SetprivPath);
            argv.Add(string.Create(CultureInfo.InvariantCulture, $"--reuid={user.Uid}"));
            argv.Add(string.Create(CultureInfo.InvariantCulture, $"--regid={user.Gid}"));
            argv.Add("--clear-groups");
            argv.Add("--no-new-privs");
            argv.Add("--inh-caps=-all");
            argv.Add("--bounding-set=-all");
            // "--" so that a program name starting with '-' is not taken for an option.
            argv.Add("--");
            argv.AddRange(spec.Command);
        }
        else
        {
            argv.Add(ProgramLocator.Resolve(program, environment.GetValueOrDefault("PATH"), workDirectory));
            argv.AddRange(spec.Command.Skip(1));
        }

        var process = JobProcess.Start(argv, environment, workDirectory);
        var unit = new ExecUnit(process, new OutputPumps(process, logs, _options.MaxLineChars), spec, _logger, _time);
        ExecRuntimeLog.Started(_logger, spec.ExecutionId, spec.Attempt, unit.GroupId, workDirectory);
        return Task.FromResult(UnitStart.Started(unit));
    }

    /// <summary>
    /// The job's whole environment. The worker's own variables (tokens, database URLs) are not
    /// inherited. The job may override the defaults (PATH, HOME, ...) through its extra
    /// environment, but not the JOBPLANE_ identity variables: orphan cleanup relies on them.
    /// </summary>
    private Dictionary<string, string> BuildEnvironment(RunSpec spec, string workDirectory)
    {
        var environment = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["PATH"] = JobSearchPath,
            ["HOME"] = workDirectory,
            ["LANG"] = "C.UTF-8",
            ["TMPDIR"] = workDirectory,
        };
        if (spec.ExtraEnvironment is not null)
        {
            foreach (var (name, value) in spec.ExtraEnvironment) environment[name] = value;
        }
        environment["JOBPLANE_EXECUTION_ID"] = spec.ExecutionId.ToString("D");
        environment["JOBPLANE_JOB_ID"] = spec.JobId.ToString("D");
        environment["JOBPLANE_ATTEMPT"] = spec.Attempt.ToString(CultureInfo.InvariantCulture);
        environment["JOBPLANE_OUTPUT_DIR"] = workDirectory;
        environment[WorkerIdVariable] = _options.WorkerId;
        return environment;
    }

    public async Task CleanupOrphansAsync(CancellationToken ct)
    {
        var ownGroup = ProcessGroup.ReadProcessGroupId(Environment.ProcessId);
        var killed = new HashSet<int>();
        for (var round = 1; ; round++)
        {
            ct.ThrowIfCancellationRequested();
            var orphans = OrphanFinder.Find(_options.WorkerId);
            if (orphans.Count == 0) break;
            if (round > MaxOrphanRounds)
            {
                ExecRuntimeLog.OrphansPersist(_logger, _options.WorkerId, MaxOrphanRounds);
                break;
            }
            foreach (var orphan in orphans)
            {
                // The whole group goes, so that children forked since the scan go too; the worker's
                // own group is never signalled (a job cannot be in it, but a stray match must not
                // take the worker down).
                if (orphan.ProcessGroup > 1 && orphan.ProcessGroup != ownGroup)
                    LibC.Kill(-orphan.ProcessGroup, LibC.SIGKILL);
                LibC.Kill(orphan.Pid, LibC.SIGKILL);
                if (killed.Add(orphan.Pid))
                    ExecRuntimeLog.OrphanProcessKilled(_logger, orphan.Pid, orphan.Command, orphan.ProcessGroup, _options.WorkerId);
            }
            // Look again once the signals have landed: a process that forked between the scan and
            // the kill, into a new session, would have escaped the group kill.
            await Task.Delay(OrphanRescanDelay, _time, ct);
        }

        // Their processes are dead now, so their folders can go.
        var removed = AttemptFolder.SweepLeftovers(_workerRoot, _options.WorkerId, MadeByWorker, _logger, ct);
        // A job that detached and scrubbed its environment is not found above, but it still runs
        // as a job user: every id of the range no live worker holds loses its processes.
        var swept = _users?.SweepIdle() ?? 0;
        ExecRuntimeLog.OrphanCleanupDone(_logger, _options.WorkerId, killed.Count, removed, swept);
    }

    /// <summary>The owners an attempt folder can have: the worker itself, or one of its job users.</summary>
    private bool MadeByWorker(uint owner) =>
        owner == LibC.EffectiveUserId || (_options.JobUsers is { } range && owner >= range.First && owner <= range.Last);
}
