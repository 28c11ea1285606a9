using Microsoft.Extensions.Logging;

namespace Jobplane.Worker.Runtimes;

/// <summary>Source-generated log messages of the attempt supervisor, the same for every runtime.</summary>
internal static partial class RuntimeLog
{
    [LoggerMessage(EventId = 1001, Level = LogLevel.Information,
        Message = "Execution {ExecutionId} attempt {Attempt} timed out after {Timeout}; stopping {Unit}")]
    public static partial void TimingOut(ILogger logger, Guid executionId, int attempt, string timeout, string unit);

    [LoggerMessage(EventId = 1002, Level = LogLevel.Information,
        Message = "Execution {ExecutionId} attempt {Attempt} is being stopped; stopping {Unit}")]
    public static partial void Stopping(ILogger logger, Guid executionId, int attempt, string unit);

    [LoggerMessage(EventId = 1003, Level = LogLevel.Warning,
        Message = "The job's {Unit} was still running {Grace} after SIGTERM; sending SIGKILL")]
    public static partial void Killing(ILogger logger, string unit, string grace);

    [LoggerMessage(EventId = 1005, Level = LogLevel.Warning,
        Message = "Could not remove attempt folder {Folder}")]
    public static partial void FolderNotRemoved(ILogger logger, string folder, Exception exception);

    [LoggerMessage(EventId = 1006, Level = LogLevel.Warning,
        Message = "Could not unmount attempt folder {Folder}")]
    public static partial void FolderNotUnmounted(ILogger logger, string folder, Exception exception);

    [LoggerMessage(EventId = 1007, Level = LogLevel.Information,
        Message = "Removed leftover attempt folder {Folder} of worker {WorkerId}")]
    public static partial void OrphanFolderRemoved(ILogger logger, string folder, string workerId);

    [LoggerMessage(EventId = 1008, Level = LogLevel.Information,
        Message = "Unmounted {Count} attempt folder(s) left mounted by a previous run of worker {WorkerId}")]
    public static partial void OrphanMountsRemoved(ILogger logger, int count, string workerId);

    [LoggerMessage(EventId = 1010, Level = LogLevel.Warning,
        Message = "Output of execution {ExecutionId} attempt {Attempt} had not ended after its unit exited, and nothing of it arrived for {Limit} (or it went on arriving for too long); the rest of it is dropped")]
    public static partial void OutputNotEnded(ILogger logger, Guid executionId, int attempt, string limit);

    [LoggerMessage(EventId = 1009, Level = LogLevel.Warning,
        Message = "Orphan cleanup of worker {WorkerId} leaves {Entry} alone: it {Reason}")]
    public static partial void LeftoverSkipped(ILogger logger, string workerId, string entry, string reason);
}
