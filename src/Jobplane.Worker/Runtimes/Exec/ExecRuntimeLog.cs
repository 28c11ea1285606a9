using Microsoft.Extensions.Logging;

namespace Jobplane.Worker.Runtimes.Exec;

/// <summary>Source-generated log messages of the exec runtime.</summary>
internal static partial class ExecRuntimeLog
{
    [LoggerMessage(EventId = 1100, Level = LogLevel.Debug,
        Message = "Execution {ExecutionId} attempt {Attempt} started as process group {ProcessGroup} in {WorkDirectory}")]
    public static partial void Started(ILogger logger, Guid executionId, int attempt, int processGroup, string workDirectory);

    [LoggerMessage(EventId = 1104, Level = LogLevel.Warning,
        Message = "Output of execution {ExecutionId} attempt {Attempt} was still held open after the job ended, by a process that left the job's process group; the rest of that output is dropped")]
    public static partial void OutputHeldOpen(ILogger logger, Guid executionId, int attempt);

    [LoggerMessage(EventId = 1106, Level = LogLevel.Information,
        Message = "Killed orphan process {Pid} ({Command}) and its process group {ProcessGroup}, left by a previous run of worker {WorkerId}")]
    public static partial void OrphanProcessKilled(ILogger logger, int pid, string command, int processGroup, string workerId);

    [LoggerMessage(EventId = 1108, Level = LogLevel.Information,
        Message = "Orphan cleanup of worker {WorkerId}: {Processes} process(es) killed, {Directories} working director(ies) removed, {Users} idle job user(s) swept")]
    public static partial void OrphanCleanupDone(ILogger logger, string workerId, int processes, int directories, int users);

    [LoggerMessage(EventId = 1111, Level = LogLevel.Warning,
        Message = "Exec jobs run as the worker's own user {Uid} (EXEC_RUN_AS_WORKER_USER=true): a job can read whatever this user can read and signal this user's other jobs. Run the worker as root with EXEC_JOB_UIDS to give every attempt a user of its own")]
    public static partial void JobsRunAsWorkerUser(ILogger logger, uint uid);

    [LoggerMessage(EventId = 1109, Level = LogLevel.Warning,
        Message = "Orphan cleanup of worker {WorkerId}: processes were still appearing after {Rounds} rounds of killing")]
    public static partial void OrphansPersist(ILogger logger, string workerId, int rounds);

    [LoggerMessage(EventId = 1112, Level = LogLevel.Warning,
        Message = "Exec attempt folders are NOT size-bounded: EXEC_WORKDIR_MAX_BYTES is 0, or the worker (user {Uid}) is not root and cannot mount the bounded tmpfs; a job can fill the disk that holds {WorkRoot}")]
    public static partial void WorkDirectoryNotBounded(ILogger logger, uint uid, string workRoot);

    [LoggerMessage(EventId = 1113, Level = LogLevel.Information,
        Message = "Exec attempt folders are tmpfs mounts of at most {Bound} each (EXEC_WORKDIR_MAX_BYTES), held in memory")]
    public static partial void WorkDirectoryBounded(ILogger logger, string bound);
}
