using Microsoft.Extensions.Logging;

namespace Jobplane.Worker.Runtimes.Kubernetes;

/// <summary>Source-generated log messages of the kubernetes runtime.</summary>
internal static partial class KubernetesRuntimeLog
{
    [LoggerMessage(EventId = 1300, Level = LogLevel.Debug,
        Message = "Execution {ExecutionId} attempt {Attempt} runs as Kubernetes Job {Namespace}/{Job} from image {Image}")]
    public static partial void Created(ILogger logger, Guid executionId, int attempt, string @namespace, string job, string image);

    [LoggerMessage(EventId = 1301, Level = LogLevel.Information,
        Message = "Execution {ExecutionId} attempt {Attempt}: Kubernetes Job {Job} already exists for it and is adopted rather than created again")]
    public static partial void Adopted(ILogger logger, Guid executionId, int attempt, string job);

    [LoggerMessage(EventId = 1302, Level = LogLevel.Warning,
        Message = "Execution {ExecutionId} attempt {Attempt}: the pod of Kubernetes Job {Job} did not start in time: {Reason}")]
    public static partial void PendingTooLong(ILogger logger, Guid executionId, int attempt, string job, string reason);


    [LoggerMessage(EventId = 1304, Level = LogLevel.Warning,
        Message = "Could not remove Kubernetes Job {Job}; the next orphan cleanup will try again")]
    public static partial void JobNotRemoved(ILogger logger, string job, Exception exception);

    [LoggerMessage(EventId = 1305, Level = LogLevel.Information,
        Message = "Removed orphan Kubernetes Job {Job} (execution {ExecutionId} attempt {Attempt}) left by an earlier run of worker {WorkerId}")]
    public static partial void OrphanJobRemoved(ILogger logger, string job, string executionId, string attempt, string workerId);

    [LoggerMessage(EventId = 1306, Level = LogLevel.Information,
        Message = "Orphan cleanup for worker {WorkerId}: {Jobs} Kubernetes Job(s) and {Folders} folder(s) removed")]
    public static partial void OrphanCleanupDone(ILogger logger, string workerId, int jobs, int folders);

    [LoggerMessage(EventId = 1307, Level = LogLevel.Warning,
        Message = "Execution {ExecutionId} attempt {Attempt}: Kubernetes refused Job {Job}: {Reason}")]
    public static partial void JobRefused(ILogger logger, Guid executionId, int attempt, string job, string reason);
}
