namespace Jobplane.Webhooks;

/// <summary>The three Standard Webhooks headers of one delivery attempt, as they go on the wire.</summary>
public sealed record WebhookHeaders(string Id, string Timestamp, string Signature)
{
    public const string IdName = "webhook-id";
    public const string TimestampName = "webhook-timestamp";
    public const string SignatureName = "webhook-signature";

    /// <summary>Puts the three headers on a request (replacing any already there).</summary>
    public void ApplyTo(HttpRequestMessage request)
    {
        ArgumentNullException.ThrowIfNull(request);
        foreach (var (name, value) in new[] { (IdName, Id), (TimestampName, Timestamp), (SignatureName, Signature) })
        {
            request.Headers.Remove(name);
            request.Headers.TryAddWithoutValidation(name, value);
        }
    }
}
