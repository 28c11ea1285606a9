using Jobplane.Webhooks;

namespace Jobplane.Controller.Webhooks;

/// <summary>
/// The controller's one guard of where webhooks may go (<see cref="DestinationPolicy"/> with the
/// operator's WEBHOOK_ALLOWED_RANGES), the one HTTP client deliveries use (it connects only to
/// addresses the policy checked, follows no redirect, uses no proxy), and signing secrets.
/// </summary>
public sealed class WebhookGuard : IDisposable
{
    private readonly WebhookOptions _options;

    public WebhookGuard(ControllerOptions options)
    {
        _options = options.Webhooks;
        Policy = DestinationPolicy.FromAllowList(_options.AllowedRanges);
        Client = WebhookHttp.CreateClient(Policy, _options.ConnectTimeout, _options.Timeout);
    }

    public DestinationPolicy Policy { get; }

    public HttpClient Client { get; }

    public static string NewSecret() => WebhookSecret.Generate().Encoded;

    /// <summary>
    /// Null when deliveries may go to <paramref name="url"/>: its shape and scheme, and every address
    /// its host resolves to now. The delivery checks the address again when it connects, so a name
    /// that later resolves somewhere refused is refused then.
    /// </summary>
    public async Task<string?> CheckUrlAsync(string url, CancellationToken ct)
    {
        if (WebhookUrl.Validate(url, _options.AllowHttp, Policy) is { } problem) return problem;
        var resolution = await Policy.ResolveAndCheckAsync(new Uri(url).IdnHost, ct);
        return resolution.Reason;
    }

    public void Dispose() => Client.Dispose();
}
