using Jobplane.Api;
using Jobplane.Controller.Http;
using Jobplane.Store;

namespace Jobplane.Controller.Endpoints;

/// <summary>The checks every attempt report passes, whether it comes alone or in a batch.</summary>
internal static class Reports
{
    /// <summary>Why the report is malformed, or null.</summary>
    public static string? Check(ResultRequest r) =>
        r.LeaseToken is null ? "lease_token is required"
        : r.ExitCode is null && string.IsNullOrEmpty(r.Error) ? "exit_code or error is required"
        : null;

    /// <summary>Why the report's result cannot be stored for its size, or null.</summary>
    public static string? ResultTooLarge(ResultRequest r) =>
        ResultJson(r) is { Length: > Wire.MaxResultBytes } json
            ? $"result is {json.Length} bytes, over the {Wire.MaxResultBytes}-byte limit"
            : null;

    /// <summary>The longest error text stored for an attempt (longer ones are cut, marked).</summary>
    public const int MaxErrorChars = 8192;

    public static AttemptResult ToAttemptResult(ResultRequest r)
    {
        // The error is the job's or the worker's text, shown to users and stored in text columns
        // (attempt, execution, dead letter): bounded, cut on a character boundary, without NUL or
        // lone surrogates. A cut at a fixed index once split a surrogate pair and made every
        // report of that attempt unstorable.
        var error = r.Error is { Length: > 0 } e ? StorableText.Clean(e, MaxErrorChars) : null;
        return new AttemptResult(r.ExitCode, error, ResultJson(r), r.Retryable ?? true);
    }

    private static string? ResultJson(ResultRequest r) =>
        r.Result is { } result && result.ValueKind != System.Text.Json.JsonValueKind.Null ? result.GetRawText() : null;
}
