namespace Jobplane.Controller.Observability;

/// <summary>The controller's log lines about executions, source-generated; each is written inside an <see cref="ExecutionScope"/>.</summary>
internal static partial class ControllerLog
{
    [LoggerMessage(Level = LogLevel.Debug, Message = "Execution {ExecutionId} attempt {Attempt} claimed by worker {WorkerId} after {PickupSeconds:0.###} s ready")]
    public static partial void Claimed(ILogger logger, Guid executionId, int attempt, string workerId, double pickupSeconds);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Execution {ExecutionId}: attempt result accepted, now {Status}")]
    public static partial void Completed(ILogger logger, Guid executionId, string status);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Execution {ExecutionId} failed its last attempt and is in the dead-letter queue")]
    public static partial void DeadLettered(ILogger logger, Guid executionId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Queue statistics could not be read; the queue gauges keep their last values")]
    public static partial void QueueStatsFailed(ILogger logger, Exception e);
}
