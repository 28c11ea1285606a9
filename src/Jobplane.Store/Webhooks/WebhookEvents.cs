using Jobplane.Api;

namespace Jobplane.Store.Webhooks;

/// <summary>
/// The event types an endpoint may ask for, and which transitions make them: the mapping is SQL, run
/// in the statement that writes the transition (<see cref="TransitionWriter.AppendEvents"/>).
/// </summary>
public static class WebhookEvents
{
    public const string Started = "execution.started";
    public const string Succeeded = "execution.succeeded";
    public const string Failed = "execution.failed";
    /// <summary>Every execution that ends FAILED goes to the dead-letter queue: the same transition, named for what a subscriber watches.</summary>
    public const string DeadLettered = "execution.dead_lettered";
    public const string Cancelled = "execution.cancelled";
    /// <summary>An attempt failed (or its worker was lost) and another will run.</summary>
    public const string Retrying = "execution.retrying";
    /// <summary>Sent only by "send a test event"; never by a transition.</summary>
    public const string Test = "webhook.test";

    public static readonly IReadOnlyList<string> Subscribable = [Started, Succeeded, Failed, DeadLettered, Cancelled, Retrying];

    /// <summary>
    /// SQL: the event types (text[]) of the execution_events row aliased <paramref name="e"/>
    /// (its kind and to_status). Empty for transitions no one subscribes to (submitted, promoted).
    /// </summary>
    public static string TypesOf(string e) => $"""
        case when {e}.kind = '{EventKind.Claimed.Word()}' then array['{Started}']
             when {e}.to_status = '{ExecutionStatus.Succeeded}' then array['{Succeeded}']
             when {e}.to_status = '{ExecutionStatus.Failed}' then array['{Failed}', '{DeadLettered}']
             when {e}.to_status = '{ExecutionStatus.Cancelled}' then array['{Cancelled}']
             when {e}.to_status = '{ExecutionStatus.Retrying}' then array['{Retrying}']
             when {e}.kind = '{EventKind.Lost.Word()}' and {e}.to_status = '{ExecutionStatus.Pending}' then array['{Retrying}']
             else array[]::text[] end
        """;
}
