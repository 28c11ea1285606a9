using System.Net;

namespace Jobplane.Cli;

/// <summary>The invocation itself is wrong (bad flag value, missing config file): exit 2, nothing sent.</summary>
internal sealed class UsageException(string message) : Exception(message);

/// <summary>The controller answered with an error status.</summary>
internal sealed class ApiException : Exception
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

    public HttpStatusCode Status { get; }
    public string? Error { get; }
    public string? Code { get; }
    public TimeSpan? RetryAfter { get; }

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
internal sealed class ControllerUnreachableException(Uri url, string reason, Exception? inner = null)
    : Exception($"cannot reach controller at {url.ToString().TrimEnd('/')}: {reason}", inner);

/// <summary>The controller answered 2xx but with something this jobctl cannot read.</summary>
internal sealed class UnexpectedResponseException(string message, Exception? inner = null) : Exception(message, inner);
