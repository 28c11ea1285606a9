using System.Net;

namespace Jobplane.Webhooks;

/// <summary>
/// A host name resolved and judged: every address it resolved to and, when any of them (or the lack
/// of any) is refused, the reason.
/// </summary>
public sealed record DestinationResolution(string Host, IReadOnlyList<IPAddress> Addresses, string? Reason)
{
    public bool IsAllowed => Reason is null;
}
