namespace Jobplane.Api;

/// <summary>The body of every error response: a human message and a stable machine code.</summary>
public sealed record ApiError(string Error, string Code);

/// <summary>Stable error codes; the HTTP status carries the class.</summary>
public static class ErrorCodes
{
    public const string InvalidArgument = "invalid_argument";
    public const string InvalidJson = "invalid_json";
    /// <summary>Text (or JSON) the database cannot store: NUL, unpaired surrogates.</summary>
    public const string UnstorableText = "unstorable_text";
    /// <summary>A timestamp without an offset (or otherwise not RFC 3339).</summary>
    public const string InvalidTimestamp = "invalid_timestamp";
    public const string Unauthorized = "unauthorized";
    public const string Forbidden = "forbidden";
    public const string NotFound = "not_found";
    public const string Conflict = "conflict";
    public const string LeaseLost = "lease_lost";
    public const string PayloadTooLarge = "payload_too_large";
    public const string RateLimited = "rate_limited";
    public const string TenantSuspended = "tenant_suspended";
    public const string NetworkNotAllowed = "network_not_allowed";
    public const string RuntimeNotAllowed = "runtime_not_allowed";
    public const string MethodNotAllowed = "method_not_allowed";
    public const string Unavailable = "unavailable";
    /// <summary>A tenant request's statement ran past the statement timeout and was stopped.</summary>
    public const string QueryTimeout = "query_timeout";
    public const string Internal = "internal";
}
