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
public sealed class ExecRuntime : IJobRuntime
{
    internal const string WorkerIdVariable = "JOBPLANE_WORKER_ID";
    internal const string SetprivPath = "/usr/bin/setpriv";
    /// <summary>The image that selects this runtime; any other image is a container image and never runs on the host.</summary>
    public const string ExecImage = "exec";
    internal const string JobSearchPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

    /// <summary>
    /// How long the output pipes may stay open once the job's group is dead. Only a process that
    /// left the group (its own session) can still hold them; what remains in the pipes themselves
    /// is at most a pipe buffer and reads in microseconds.
    /// </summary>
    private static readonly TimeSpan DrainLimit = TimeSpan.FromSeconds(3);
    private static readonly TimeSpan GroupPollInterval = TimeSpan.FromMilliseconds(50);
    private static readonly TimeSpan OrphanRescanDelay = TimeSpan.FromMilliseconds(100);
    private const int MaxOrphanRounds = 10;

    private static readonly UTF8Encoding Utf8 = new(encoderShouldEmitUTF8Identifier: false);

    private readonly ExecRuntimeOptions _options;
    private readonly ILogger<ExecRuntime> _logger;
    private readonly TimeProvider _time;
    /// <summary>{WorkRoot}/{WorkerId}: everything this worker's attempts write lives below it.</summary>
    private readonly string _workerRoot;
    /// <summary>Null when jobs run as the worker's own user (the operator accepted that).</summary>
    private readonly JobUserPool? _users;
    /// <summary>Size of the tmpfs mounted on each attempt's folder; 0 when folders are not bounded.</summary>
    private readonly long _boundBytes;

    public ExecRuntime(ExecRuntimeOptions options, ILogger<ExecRuntime> logger, TimeProvider time)
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

    public string Name => "exec";


    /// <summary>Image exec only; it grants no container requests, so it announces none (they are not checked).</summary>
    public Api.WorkerCapabilities Capabilities { get; } = new() { RuntimeClasses = [Api.RuntimeClasses.Exec] };

    public async Task<RunOutcome> RunAsync(RunSpec spec, ILogSink logs, CancellationToken stop, CancellationToken kill = default)
    {
        ArgumentNullException.ThrowIfNull(spec);
        ArgumentNullException.ThrowIfNull(logs);
        var invalid = Validate(spec);
        if (invalid is not null) return Refused(invalid);
        // The claim routes container images to container workers; this is the last line of defence
        // should one ever reach an exec worker (an older controller): it never runs on the host.
        if (!string.Equals(spec.Image, ExecImage, StringComparison.Ordinal))
            return Refused($"image '{spec.Image}' is a container image; an exec worker runs only jobs whose image is '{ExecImage}'");
        if (stop.IsCancellationRequested) return new RunOutcome { Stopped = true, Error = OutcomeText.StoppedError };

        var workDirectory = Path.Combine(_workerRoot,
            string.Create(CultureInfo.InvariantCulture, $"{spec.ExecutionId:D}-{spec.Attempt}"));
        using var user = _users?.Acquire();
        if (user is null) WorkDirectory.CreateFresh(workDirectory);
        else WorkDirectory.CreateFreshFor(workDirectory, user.Uid, user.Gid);
        var sharedTemp = user is null ? default : SharedTempLeftovers.Snapshot.Take();
        var bounded = false;
        try
        {
            if (user is not null && _boundBytes > 0)
            {
                // The job's own tmpfs: past the bound its writes fail with ENOSPC, the host disk never grows.
                BoundedFolder.Mount(workDirectory, _boundBytes, user.Uid, user.Gid);
                bounded = true;
            }
            return await RunInAsync(spec, workDirectory, user, logs, stop, kill);
        }
        finally
        {
            if (user is not null)
            {
                // Nothing of the attempt may be alive while its files are removed: a process still
                // running could swap a folder for a link under the worker's feet.
                user.KillEverything();
                SharedTempLeftovers.RemoveOwnedBy(user.Uid, sharedTemp);
            }
            if (bounded)
            {
                try
                {
                    // Its processes are dead, so this is normally immediate; lazy if something still holds it.
                    BoundedFolder.Unmount(workDirectory);
                }
                catch (IOException ex)
                {
                    ExecRuntimeLog.WorkDirectoryNotUnmounted(_logger, workDirectory, ex);
                }
            }
            try
            {
                WorkDirectory.Delete(workDirectory);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                // Not worth failing the attempt over; the next orphan cleanup tries again.
                ExecRuntimeLog.WorkDirectoryNotRemoved(_logger, workDirectory, ex);
            }
        }
    }

    private async Task<RunOutcome> RunInAsync(RunSpec spec, string workDirectory, JobUser? user, ILogSink logs, CancellationToken stop, CancellationToken kill)
    {
        var environment = BuildEnvironment(spec, workDirectory);
        var program = spec.Command[0];
        var whyNot = ProgramLocator.WhyNotStartable(program, environment.GetValueOrDefault("PATH"), workDirectory);
        if (whyNot is not null) return Refused($"cannot start '{program}': {whyNot}");

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

        JobProcess process;
        using (RuntimeTracing.Start(Name, "start"))
            process = JobProcess.Start(argv, environment, workDirectory);
        using var owned = process;
        // The job leads its own session and process group from its first instruction on.
        var group = new ProcessGroup(process.Pid);
        try
        {
            var pumps = new OutputPumps(process, logs, _options.MaxLineChars);
            ExecRuntimeLog.Started(_logger, spec.ExecutionId, spec.Attempt, group.Id, workDirectory);

            Ending ending;
            using (RuntimeTracing.Start(Name, "wait"))
                ending = await WaitForEndAsync(spec, process, group, pumps.Faulted, stop, kill);
            // Background children of a job that exited by itself die with the attempt, and once the
            // group is gone nothing but an escaped process can keep the output pipes open.
            group.Signal(LibC.SIGKILL);
            if (!await pumps.DrainAsync(DrainLimit, _time))
                ExecRuntimeLog.OutputHeldOpen(_logger, spec.ExecutionId, spec.Attempt);
            pumps.ThrowIfFaulted();
            return BuildOutcome(ending, process.ExitCode, workDirectory, spec.Timeout);
        }
        finally
        {
            // Also on a worker-side exception: nothing of the job may outlive the attempt.
            group.Signal(LibC.SIGKILL);
            process.Kill();
            await process.WaitForExitAsync(CancellationToken.None);
        }
    }

    private enum Ending
    {
        Exited,
        TimedOut,
        Stopped,
    }

    private async Task<Ending> WaitForEndAsync(
        RunSpec spec, JobProcess process, ProcessGroup group, CancellationToken faulted, CancellationToken stop, CancellationToken kill)
    {
        using var timeout = RuntimeGuards.TimeoutSource(spec.Timeout, _time);
        using var end = CancellationTokenSource.CreateLinkedTokenSource(stop, timeout.Token, faulted);
        try
        {
            await process.WaitForExitAsync(end.Token);
            return Ending.Exited;
        }
        catch (OperationCanceledException) when (end.IsCancellationRequested)
        {
            // Timeout, stop or a broken log sink: handled below.
        }

        // The job finished by itself at the same moment: it was neither timed out nor stopped.
        if (process.HasExited) return Ending.Exited;
        if (faulted.IsCancellationRequested)
        {
            // The worker itself is failing; the caller gets the exception, the job no grace.
            group.Signal(LibC.SIGKILL);
            await process.WaitForExitAsync(CancellationToken.None);
            return Ending.Exited;
        }

        Ending ending;
        if (stop.IsCancellationRequested)
        {
            ending = Ending.Stopped;
            ExecRuntimeLog.Stopping(_logger, spec.ExecutionId, spec.Attempt, group.Id);
        }
        else
        {
            ending = Ending.TimedOut;
            ExecRuntimeLog.TimingOut(_logger, spec.ExecutionId, spec.Attempt, OutcomeText.FormatDuration(spec.Timeout), group.Id);
        }
        await TerminateAsync(process, group, kill);
        return ending;
    }

    /// <summary>
    /// SIGTERM to the whole group, then SIGKILL once the grace period is over if anything is left;
    /// SIGKILL at once (or as soon as it is asked for during the grace period) when <paramref name="kill"/> is cancelled.
    /// </summary>
    private async Task TerminateAsync(JobProcess process, ProcessGroup group, CancellationToken kill)
    {
        if (!kill.IsCancellationRequested)
        {
            group.Signal(LibC.SIGTERM);
            using var graceTimer = new CancellationTokenSource(_options.KillGrace, _time);
            using var grace = CancellationTokenSource.CreateLinkedTokenSource(graceTimer.Token, kill);
            try
            {
                await process.WaitForExitAsync(grace.Token);
                // The main process is gone; what it started gets the rest of the grace period too.
                while (group.IsAlive()) await Task.Delay(GroupPollInterval, _time, grace.Token);
                return;
            }
            catch (OperationCanceledException) when (grace.IsCancellationRequested)
            {
                // Grace period over, or a kill was asked for.
            }
        }
        ExecRuntimeLog.Killing(_logger, group.Id, OutcomeText.FormatDuration(kill.IsCancellationRequested ? TimeSpan.Zero : _options.KillGrace));
        group.Signal(LibC.SIGKILL);
        await process.WaitForExitAsync(CancellationToken.None);
    }

    private static RunOutcome BuildOutcome(Ending ending, int exitCode, string workDirectory, TimeSpan timeout)
    {
        switch (ending)
        {
            case Ending.TimedOut:
                return new RunOutcome
                {
                    ExitCode = exitCode,
                    TimedOut = true,
                    Error = OutcomeText.TimedOut(timeout),
                    Retryable = true,
                };
            case Ending.Stopped:
                return new RunOutcome { ExitCode = exitCode, Stopped = true, Error = OutcomeText.StoppedError, Retryable = true };
        }

        // A job cut short by a timeout or a stop has no trustworthy result; one that ended by
        // itself is judged on both its exit code and its result.json.
        var exitError = exitCode == 0 ? null : OutcomeText.DescribeExit(exitCode);
        var result = ResultFile.Read(workDirectory);
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

    private static RunOutcome Refused(string error) => new() { Error = error, Retryable = false };

    /// <summary>Problems with the spec itself, which no retry can fix.</summary>
    private static string? Validate(RunSpec spec)
    {
        if (spec.Command is null || spec.Command.Count == 0) return "command is empty";
        if (spec.Command[0].Length == 0) return "command is empty: its first element names no program";
        for (var i = 0; i < spec.Command.Count; i++)
        {
            if (spec.Command[i] is null) return $"command element {i} is null";
            if (spec.Command[i].Contains('\0')) return $"command element {i} contains a NUL character";
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

        // A worker that died mid-attempt left its bounded folders mounted; their processes are dead now.
        var unmounted = BoundedFolder.UnmountAllBelow(_workerRoot);
        if (unmounted > 0) ExecRuntimeLog.OrphanMountsRemoved(_logger, unmounted, _options.WorkerId);
        var removed = 0;
        var leftovers = WorkDirectory.FindLeftovers(_workerRoot, MadeByWorker);
        foreach (var (entry, reason) in leftovers.Skipped) ExecRuntimeLog.LeftoverSkipped(_logger, _options.WorkerId, entry, reason);
        foreach (var entry in leftovers.Removable)
        {
            try
            {
                WorkDirectory.Delete(entry);
                removed++;
                ExecRuntimeLog.OrphanDirectoryRemoved(_logger, entry, _options.WorkerId);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                ExecRuntimeLog.WorkDirectoryNotRemoved(_logger, entry, ex);
            }
        }
        // A job that detached and scrubbed its environment is not found above, but it still runs
        // as a job user: every id of the range no live worker holds loses its processes.
        var swept = _users?.SweepIdle() ?? 0;
        ExecRuntimeLog.OrphanCleanupDone(_logger, _options.WorkerId, killed.Count, removed, swept);
    }

    /// <summary>The owners an attempt folder can have: the worker itself, or one of its job users.</summary>
    private bool MadeByWorker(uint owner) =>
        owner == LibC.EffectiveUserId || (_options.JobUsers is { } range && owner >= range.First && owner <= range.Last);

    /// <summary>
    /// Reads stdout and stderr concurrently, chunk by chunk (never a whole line at once: a job can
    /// write a line of any length), and hands complete lines to the sink as they arrive. Reading
    /// both at once is what keeps a job that fills one pipe while we wait on the other from stalling.
    /// </summary>
    private sealed class OutputPumps
    {
        private const int ReadChars = 16 * 1024;
        private const int StreamBufferBytes = 64 * 1024;

        private readonly ILogSink _sink;
        private readonly int _maxLineChars;
        private readonly CancellationTokenSource _abandon = new();
        private readonly CancellationTokenSource _faulted = new();
        private readonly Task _both;
        /// <summary>Cleared once the attempt no longer wants output, so that no line reaches the sink after RunAsync returned.</summary>
        private volatile bool _open = true;
        private Exception? _fault;

        public OutputPumps(JobProcess process, ILogSink sink, int maxLineChars)
        {
            _sink = sink;
            _maxLineChars = maxLineChars;
            _both = Task.WhenAll(
                PumpAsync(process.Stdout, LogStream.Stdout),
                PumpAsync(process.Stderr, LogStream.Stderr));
        }

        /// <summary>Cancelled when the sink threw: the attempt must end rather than block on a full pipe.</summary>
        public CancellationToken Faulted => _faulted.Token;

        private async Task PumpAsync(Stream pipe, LogStream stream)
        {
            // Off the caller's thread from the start: the first read may complete synchronously.
            await Task.Yield();
            try
            {
                using var reader = new StreamReader(pipe, Utf8, detectEncodingFromByteOrderMarks: false, StreamBufferBytes);
                var splitter = new LineSplitter(_maxLineChars, line =>
                {
                    if (_open) _sink.Write(stream, line);
                });
                var buffer = new char[ReadChars];
                while (true)
                {
                    int n;
                    try
                    {
                        n = await reader.ReadAsync(buffer, _abandon.Token);
                    }
                    catch (OperationCanceledException) when (_abandon.IsCancellationRequested)
                    {
                        return;
                    }
                    catch (IOException)
                    {
                        // A broken pipe: nothing more will come.
                        n = 0;
                    }
                    if (n == 0)
                    {
                        splitter.Flush();
                        return;
                    }
                    splitter.Append(buffer.AsSpan(0, n));
                }
            }
            catch (Exception ex)
            {
                // Only the sink can get here: a worker-side fault, reported by ThrowIfFaulted.
                Interlocked.CompareExchange(ref _fault, ex, null);
                _open = false;
                _faulted.Cancel();
            }
        }

        /// <summary>
        /// Waits for both streams to reach end of file. False when something outside the job's
        /// process group still held a pipe after <paramref name="limit"/>: reading is abandoned and
        /// the rest of its output dropped, rather than the attempt hanging for as long as it lives.
        /// </summary>
        public async Task<bool> DrainAsync(TimeSpan limit, TimeProvider time)
        {
            try
            {
                await _both.WaitAsync(limit, time);
                return true;
            }
            catch (TimeoutException)
            {
                // Fall through to abandoning the reads.
            }
            _open = false;
            _abandon.Cancel();
            try
            {
                await _both.WaitAsync(limit, time);
            }
            catch (TimeoutException)
            {
                // A read that ignores cancellation ends when the holder exits; nobody listens by then.
            }
            return false;
        }

        public void ThrowIfFaulted()
        {
            if (_fault is not null)
                throw new InvalidOperationException("the log sink failed while receiving job output", _fault);
        }
    }
}
