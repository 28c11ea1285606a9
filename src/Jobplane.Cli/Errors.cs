using System.Net;

namespace Jobplane.Cli;

/// <summary>The invocation itself is wrong (bad flag value, missing config file): exit 2, nothing sent.</summary>
internal sealed class UsageException(string message) : Exception(message);

/// <summary>The controller answered with an error status.</summary>
internal sealed class ApiException : Exception
{
    public ApiException(HttpStatusCode status, string? reasonPhrase, string? error, string? code, string? bodyText)
        : base(Describe(status, reasonPhrase, error, code, bodyText))
    {
        Status = status;
        Error = error;
        Code = code;
    }

    public HttpStatusCode Status { get; }
    public string? Error { get; }
    public string? Code { get; }

    private static string Describe(HttpStatusCode status, string? reasonPhrase, string? error, string? code, string? bodyText)
    {
        var number = (int)status;
        if (error is not null)
            return code is null ? $"{error} (HTTP {number})" : $"{error} ({code}, HTTP {number})";
        // Not our JSON error body (a proxy, or an older controller): the status line is all we can trust,
        // plus the first line of a short text body, which often says what the proxy refused.
        var line = $"HTTP {number} {reasonPhrase}".TrimEnd();
        var snippet = bodyText?.Split('\n', 2)[0].Trim();
        if (!string.IsNullOrEmpty(snippet))
            line += ": " + (snippet.Length > 200 ? snippet[..200] + "..." : snippet);
        return line;
    }
}

/// <summary>No HTTP exchange happened: connection refused, DNS failure, TLS failure, timeout.</summary>
internal sealed class ControllerUnreachableException(Uri url, string reason, Exception? inner = null)
    : Exception($"cannot reach controller at {url.ToString().TrimEnd('/')}: {reason}", inner);

/// <summary>The controller answered 2xx but with something this jobctl cannot read.</summary>
internal sealed class UnexpectedResponseException(string message, Exception? inner = null) : Exception(message, inner);
