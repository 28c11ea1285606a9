namespace Jobplane.Webhooks;

/// <summary>The outcome of checking a delivery's signature: valid, or the reason it is not.</summary>
public sealed record WebhookVerification(bool IsValid, string? Problem)
{
    public static WebhookVerification Valid { get; } = new(true, null);

    public static WebhookVerification Invalid(string problem) => new(false, problem);
}
