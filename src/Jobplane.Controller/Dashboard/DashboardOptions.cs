using Jobplane.Api;

namespace Jobplane.Controller.Dashboard;

/// <summary>The operator's settings for the web dashboard, read with the rest of <see cref="ControllerOptions"/>.</summary>
public sealed record DashboardOptions
{
    /// <summary>How long a dashboard sign-in lasts (UI_SESSION_LIFETIME); it ends sooner when its key is revoked or expires.</summary>
    public TimeSpan SessionLifetime { get; init; } = TimeSpan.FromHours(12);
    /// <summary>Sessions one API key (or the administrator secret) may hold at once (UI_SESSIONS_PER_KEY); signing in past it ends the oldest.</summary>
    public int SessionsPerKey { get; init; } = 20;
    /// <summary>
    /// A link to a trace in the operator's trace UI (TRACE_UI_URL), with {trace_id} standing for the
    /// execution's trace id, e.g. https://jaeger.example/trace/{trace_id}. Unset: no link.
    /// </summary>
    public string? TraceUiUrl { get; init; }
    /// <summary>Whether the controller serves the dashboard at /ui at all (UI_ENABLED).</summary>
    public bool Enabled { get; init; } = true;

    public static DashboardOptions Read(SettingReader read)
    {
        var options = new DashboardOptions
        {
            SessionLifetime = read.Duration("UI_SESSION_LIFETIME", TimeSpan.FromHours(12)),
            SessionsPerKey = read.Int("UI_SESSIONS_PER_KEY", 20, 1, 1000),
            TraceUiUrl = read.String("TRACE_UI_URL"),
            Enabled = read.String("UI_ENABLED")?.ToLowerInvariant() is not ("false" or "0" or "no" or "off"),
        };
        if (options.SessionLifetime < TimeSpan.FromMinutes(1) || options.SessionLifetime > TimeSpan.FromDays(30))
            read.Error("UI_SESSION_LIFETIME must be between 1m and 30d");
        if (options.TraceUiUrl is { } url && (!url.Contains("{trace_id}", StringComparison.Ordinal)
            || !Uri.TryCreate(url.Replace("{trace_id}", "0", StringComparison.Ordinal), UriKind.Absolute, out var u)
            || u.Scheme is not ("http" or "https")))
            read.Error($"TRACE_UI_URL must be an http(s) URL containing {{trace_id}} (got '{url}')");
        return options;
    }
}
