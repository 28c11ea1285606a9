namespace Jobplane.Webhooks;

/// <summary>Whether an address may be called, and when not, why (a sentence naming the refused range).</summary>
public sealed record DestinationDecision(bool IsAllowed, string? Reason)
{
    public static DestinationDecision Allowed { get; } = new(true, null);

    public static DestinationDecision Refused(string reason) => new(false, reason);
}
