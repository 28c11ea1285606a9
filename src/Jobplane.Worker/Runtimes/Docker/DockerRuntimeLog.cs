using Microsoft.Extensions.Logging;

namespace Jobplane.Worker.Runtimes.Docker;

/// <summary>Source-generated log messages of the docker runtime.</summary>
internal static partial class DockerRuntimeLog
{
    [LoggerMessage(EventId = 1200, Level = LogLevel.Debug,
        Message = "Execution {ExecutionId} attempt {Attempt} started as container {ContainerId} from image {Image}")]
    public static partial void Started(ILogger logger, Guid executionId, int attempt, string containerId, string image);


    [LoggerMessage(EventId = 1205, Level = LogLevel.Warning,
        Message = "Could not remove container {ContainerId}; the next orphan cleanup will try again")]
    public static partial void ContainerNotRemoved(ILogger logger, string containerId, Exception exception);

    [LoggerMessage(EventId = 1207, Level = LogLevel.Information,
        Message = "Pulling image {Image}")]
    public static partial void Pulling(ILogger logger, string image);

    [LoggerMessage(EventId = 1208, Level = LogLevel.Information,
        Message = "Pulled image {Image}")]
    public static partial void Pulled(ILogger logger, string image);

    [LoggerMessage(EventId = 1209, Level = LogLevel.Warning,
        Message = "Image {Image} cannot be pulled: {Reason}")]
    public static partial void PullFailed(ILogger logger, string image, string reason);

    [LoggerMessage(EventId = 1210, Level = LogLevel.Information,
        Message = "Removed orphan container {ContainerId} (execution {ExecutionId} attempt {Attempt}), left by a previous run of worker {WorkerId}")]
    public static partial void OrphanContainerRemoved(ILogger logger, string containerId, string executionId, string attempt, string workerId);

    [LoggerMessage(EventId = 1212, Level = LogLevel.Information,
        Message = "Orphan cleanup of worker {WorkerId}: {Containers} container(s) removed, {Folders} output folder(s) removed")]
    public static partial void OrphanCleanupDone(ILogger logger, string workerId, int containers, int folders);

    [LoggerMessage(EventId = 1213, Level = LogLevel.Warning,
        Message = "Execution {ExecutionId} attempt {Attempt}: a process of the job was killed for lack of memory (limit {Limit}), but the job exited 0")]
    public static partial void OomButSucceeded(ILogger logger, Guid executionId, int attempt, string limit);

    [LoggerMessage(EventId = 1214, Level = LogLevel.Information,
        Message = "Docker output folders are tmpfs mounts of at most {Bound} each (DOCKER_OUTPUT_MAX_BYTES), held in memory")]
    public static partial void OutputBounded(ILogger logger, string bound);

    [LoggerMessage(EventId = 1215, Level = LogLevel.Warning,
        Message = "Docker output folders are NOT size-bounded: DOCKER_OUTPUT_MAX_BYTES is 0, or the worker (user {Uid}) cannot mount; a container can fill the disk that holds {WorkRoot}")]
    public static partial void OutputNotBounded(ILogger logger, uint uid, string workRoot);

    [LoggerMessage(EventId = 1219, Level = LogLevel.Warning,
        Message = "Image {Image} cannot be used: {Reason}")]
    public static partial void ImageRefused(ILogger logger, string image, string reason);

    [LoggerMessage(EventId = 1220, Level = LogLevel.Warning,
        Message = "Execution {ExecutionId} attempt {Attempt}: the container cannot be {What}: {Reason}")]
    public static partial void ContainerRefused(ILogger logger, Guid executionId, int attempt, string what, string reason);
}
