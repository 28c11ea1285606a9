using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Console;

namespace Jobplane.Observability;

/// <summary>
/// LOG_FORMAT: how a jobplane process writes its console log. "json" (the default): one JSON object
/// per line with every scope field (execution_id, job_id, tenant_id, attempt, trace ids), for log
/// collectors; "text": one readable line per event with the same fields, for a terminal.
/// </summary>
public static class LogFormat
{
    public const string Setting = "LOG_FORMAT";
    public const string Json = "json";
    public const string Text = "text";

    private const string TimestampFormat = "yyyy-MM-ddTHH:mm:ss.fffZ";

    /// <summary>The format named by <paramref name="value"/> (json when unset), or null when it names none.</summary>
    public static string? Parse(string? value) =>
        string.IsNullOrWhiteSpace(value) ? Json : value.Trim().ToLowerInvariant() switch
        {
            Json => Json,
            Text => Text,
            _ => null,
        };

    /// <summary>The message for a LOG_FORMAT that names no format, for a start-up error.</summary>
    public static string Invalid(string? value) => $"{Setting} must be json or text (got '{value}')";

    /// <summary>
    /// Replaces the console formatter with the chosen one; scopes always included, so every line
    /// about an execution carries its ids. An invalid value falls back to json (start-up validation reports it).
    /// </summary>
    public static ILoggingBuilder AddJobplaneConsole(this ILoggingBuilder logging, string? format)
    {
        logging.ClearProviders();
        // Trace and span ids of the current activity become scope fields of every line.
        logging.Configure(o => o.ActivityTrackingOptions = ActivityTrackingOptions.TraceId | ActivityTrackingOptions.SpanId);
        if (Parse(format) == Text)
        {
            logging.AddSimpleConsole(o =>
            {
                o.SingleLine = true;
                o.IncludeScopes = true;
                o.TimestampFormat = TimestampFormat + " ";
                o.UseUtcTimestamp = true;
            });
        }
        else
        {
            logging.AddJsonConsole(o =>
            {
                o.IncludeScopes = true;
                o.TimestampFormat = TimestampFormat;
                o.UseUtcTimestamp = true;
                o.JsonWriterOptions = new System.Text.Json.JsonWriterOptions { Indented = false };
            });
        }
        return logging;
    }
}
