using System.Net;

namespace Jobplane.Webhooks;

/// <summary>The checks a tenant's endpoint URL passes at registration, before anything is resolved.</summary>
public static class WebhookUrl
{
    public const int MaxLength = 2000;

    /// <summary>
    /// Null when <paramref name="url"/> may be registered, otherwise the problem in a sentence.
    /// An IP-literal host is judged by <paramref name="policy"/> (the default refuses every internal
    /// range) here and now; a host name is not resolved here: call
    /// <see cref="DestinationPolicy.ResolveAndCheckAsync"/> for it, and deliveries check it again.
    /// </summary>
    public static string? Validate(string url, bool allowHttp, DestinationPolicy? policy = null)
    {
        if (string.IsNullOrWhiteSpace(url)) return "the URL is empty";
        if (url.Length > MaxLength) return $"the URL is {url.Length} characters long; at most {MaxLength} are allowed";
        if (url.Trim().Length != url.Length) return "the URL starts or ends with white space";
        // On Unix "/hooks" parses as an absolute file: URI, so the scheme check below catches it too.
        if (!Uri.TryCreate(url, UriKind.Absolute, out var uri)) return "the URL is not an absolute URL (https://host/path)";

        var httpOk = allowHttp && uri.Scheme == Uri.UriSchemeHttp;
        if (uri.Scheme != Uri.UriSchemeHttps && !httpOk)
        {
            return allowHttp
                ? $"the URL's scheme is {uri.Scheme}; only https and http are allowed"
                : $"the URL's scheme is {uri.Scheme}; only https is allowed";
        }
        // Uri drops an empty user-info ("https://@host"), so look for the '@' in what was written.
        var authority = url[(url.IndexOf("//", StringComparison.Ordinal) + 2)..].Split('/', '?', '#')[0];
        if (uri.UserInfo.Length > 0 || authority.Contains('@', StringComparison.Ordinal))
            return "the URL carries a user name or password; use the signing secret to authenticate deliveries";
        if (uri.Host.Length == 0) return "the URL has no host";
        // '#' cannot appear in a URL except to start a fragment; a fragment is never sent, so it means a mistake.
        if (url.Contains('#', StringComparison.Ordinal)) return "the URL has a fragment (#...), which is never sent to the server";

        if (uri.HostNameType is UriHostNameType.IPv4 or UriHostNameType.IPv6)
        {
            // Uri has already normalised the odd IPv4 spellings (2130706433, 0x7f.1, 127.1) to a dotted quad.
            if (!IPAddress.TryParse(uri.Host.Trim('[', ']'), out var address)) return "the URL's host is not a usable IP address";
            var decision = (policy ?? DestinationPolicy.Default).Check(address);
            if (!decision.IsAllowed) return $"the URL's host is refused: {decision.Reason}";
        }
        return null;
    }
}
