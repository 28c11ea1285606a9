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

    public static AttemptResult ToAttemptResult(ResultRequest r)
    {
        // The error is shown to users and stored in text: bounded, and without NUL (text cannot hold it).
        var error = r.Error is { Length: > 0 } e ? (e.Length > 8192 ? e[..8192] : e).Replace('\0', '\uFFFD') : null;
        return new AttemptResult(r.ExitCode, error, ResultJson(r), r.Retryable ?? true);
    }

    private static string? ResultJson(ResultRequest r) =>
        r.Result is { } result && result.ValueKind != System.Text.Json.JsonValueKind.Null ? result.GetRawText() : null;
}
