using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.RazorPages;

namespace Jobplane.Controller.Dashboard;

/// <summary>
/// The base of every signed-in dashboard page: the viewer (set by <see cref="DashboardPageFilter"/>
/// before any handler runs), and the notice a redirect after an action carries.
/// </summary>
public abstract class DashboardPage : PageModel
{
    public Viewer Viewer => HttpContext.Items[typeof(Viewer)] as Viewer
        ?? throw new InvalidOperationException("dashboard page without a session");

    /// <summary>A one-line outcome of the action that redirected here, from a fixed list (never text from the request).</summary>
    public string? Notice { get; private set; }

    /// <summary>An action's outcome to show on this rendering.</summary>
    public string? Outcome { get; set; }

    /// <summary>An action's refusal (a bad form value) to show on this rendering.</summary>
    public string? Problem { get; set; }

    public override void OnPageHandlerExecuting(Microsoft.AspNetCore.Mvc.Filters.PageHandlerExecutingContext context)
    {
        // "code" or "code:N", N a count: the text is ours, only the number comes from the request.
        var notice = Request.Query["notice"].ToString().Split(':', 2);
        if (Notices.TryGetValue(notice[0], out var text))
            Notice = string.Format(System.Globalization.CultureInfo.InvariantCulture, text,
                notice.Length == 2 && long.TryParse(notice[1], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var n) ? n : 1);
        base.OnPageHandlerExecuting(context);
    }

    /// <summary>Post/redirect/get: back to <paramref name="url"/> with a notice from <see cref="Notices"/>.</summary>
    protected SeeOther Done(string url, string notice, long? count = null) =>
        new(url + (url.Contains('?', StringComparison.Ordinal) ? "&" : "?") + "notice=" + Uri.EscapeDataString(notice)
            + (count is { } n ? ":" + n.ToString(System.Globalization.CultureInfo.InvariantCulture) : ""));

    private static readonly Dictionary<string, string> Notices = new(StringComparer.Ordinal)
    {
        ["cancelled"] = "Cancelled or asked to stop: {0}.",
        ["retried"] = "Retries submitted: {0}.",
        ["purged"] = "Dead letters purged: {0}.",
        ["submitted"] = "Executions submitted: {0}.",
        ["paused"] = "Schedule paused.",
        ["resumed"] = "Schedule resumed.",
        ["triggered"] = "Schedule triggered.",
        ["suspended"] = "Tenant suspended.",
        ["unsuspended"] = "Tenant resumed.",
        ["saved"] = "Saved.",
        ["revoked"] = "Revoked.",
        ["nothing"] = "Nothing matched; nothing changed.",
        ["scheduled"] = "Executions scheduled for later: {0}.",
        ["key_revoked"] = "API key revoked, with the keys made from it: {0}.",
        ["none_selected"] = "Nothing was selected; nothing changed.",
    };
}
