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
    /// <summary>The tenant holds LOG_FOLLOW_MAX_PER_TENANT followed log streams on this replica already.</summary>
    public const string TooManyLogStreams = "too_many_log_streams";
    /// <summary>The tenant holds MAX_API_KEYS_PER_TENANT live API keys already.</summary>
    public const string TooManyApiKeys = "too_many_api_keys";
    /// <summary>Too many failed authentications from this client address: 429 with Retry-After, before any key is looked up.</summary>
    public const string TooManyAuthFailures = "too_many_auth_failures";
    public const string TenantSuspended = "tenant_suspended";
    /// <summary>A read-only API key was used on a route that changes something.</summary>
    public const string ReadOnlyKey = "read_only_key";
    public const string NetworkNotAllowed = "network_not_allowed";
    public const string RuntimeNotAllowed = "runtime_not_allowed";
    /// <summary>The job's image comes from a registry the operator's IMAGE_REGISTRIES does not list.</summary>
    public const string ImageNotAllowed = "image_not_allowed";
    public const string MethodNotAllowed = "method_not_allowed";
    public const string Unavailable = "unavailable";
    /// <summary>A tenant request's statement ran past the statement timeout and was stopped.</summary>
    public const string QueryTimeout = "query_timeout";
    public const string Internal = "internal";
}
