using System.Net;

namespace Jobplane.Client;

/// <summary>The controller answered with an error status: its status, its error code and its message.</summary>
public sealed class ApiException : Exception
{
    /// <param name="retryAfter">The Retry-After the controller sent (429, 503), so the user knows how long to wait.</param>
    public ApiException(HttpStatusCode status, string? reasonPhrase, string? error, string? code, string? bodyText, TimeSpan? retryAfter = null)
        : base(Describe(status, reasonPhrase, error, code, bodyText, retryAfter))
    {
        Status = status;
        Error = error;
        Code = code;
        RetryAfter = retryAfter;
    }

    /// <summary>An error the caller already decoded (or made up on the controller's behalf, e.g. for one answer of a batch).</summary>
    public ApiException(HttpStatusCode status, string code, string message)
        : this(status, null, message, code, null)
    {
    }

    public HttpStatusCode Status { get; }
    /// <summary>The controller's human message; null when the body was not the API's error shape.</summary>
    public string? Error { get; }
    /// <summary>The controller's machine-readable code (e.g. lease_lost); null when the body was not the API's error shape.</summary>
    public string? Code { get; }
    public TimeSpan? RetryAfter { get; }

    /// <summary>A worker's attempt no longer holds its lease (or the execution is gone): stop, report nothing.</summary>
    public bool LeaseGone => Status is HttpStatusCode.Conflict or HttpStatusCode.NotFound;

    /// <summary>Worth retrying: the controller or the network had a problem, not the request.</summary>
    public bool Transient => (int)Status >= 500 || Status == HttpStatusCode.TooManyRequests;

    private static string Describe(HttpStatusCode status, string? reasonPhrase, string? error, string? code, string? bodyText, TimeSpan? retryAfter)
    {
        var number = (int)status;
        // Said by jobctl itself, not left to the message: a proxy's 429 has no JSON body to say it.
        var wait = retryAfter is { } delay ? $"; retry after {Seconds(delay)} s" : "";
        if (status == HttpStatusCode.TooManyRequests && error is null)
            return $"rate limited by the controller (HTTP {number}){wait}";
        if (error is not null)
            return (code is null ? $"{error} (HTTP {number})" : $"{error} ({code}, HTTP {number})") + (Mentions(error, retryAfter) ? "" : wait);
        // Not our JSON error body (a proxy, or an older controller): the status line is all we can trust,
        // plus the first line of a short text body, which often says what the proxy refused.
        var line = $"HTTP {number} {reasonPhrase}".TrimEnd();
        var snippet = bodyText?.Split('\n', 2)[0].Trim();
        if (!string.IsNullOrEmpty(snippet))
            line += ": " + (snippet.Length > 200 ? snippet[..200] + "..." : snippet);
        return line + wait;
    }

    private static long Seconds(TimeSpan delay) => Math.Max(0, (long)Math.Ceiling(delay.TotalSeconds));

    /// <summary>The controller's own 429 message already names the wait; saying it twice reads as two different waits.</summary>
    private static bool Mentions(string error, TimeSpan? retryAfter) =>
        retryAfter is { } delay && error.Contains($"retry after {Seconds(delay)} s", StringComparison.OrdinalIgnoreCase);
}

/// <summary>No HTTP exchange happened: connection refused, DNS failure, TLS failure, timeout.</summary>
public sealed class ControllerUnreachableException(Uri url, string reason, Exception? inner = null)
    : Exception($"cannot reach controller at {url.ToString().TrimEnd('/')}: {reason}", inner);

/// <summary>The controller answered 2xx but with something this jobctl cannot read.</summary>
public sealed class UnexpectedResponseException(string message, Exception? inner = null) : Exception(message, inner);
