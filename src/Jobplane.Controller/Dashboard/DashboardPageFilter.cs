using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.Filters;

namespace Jobplane.Controller.Dashboard;

/// <summary>Marks a dashboard page that answers without a session (sign-in).</summary>
[AttributeUsage(AttributeTargets.Class)]
public sealed class AnonymousPageAttribute : Attribute;

/// <summary>Marks a POST handler a read-only session may use (sign-out).</summary>
[AttributeUsage(AttributeTargets.Method)]
public sealed class AllowedReadOnlyAttribute : Attribute;

/// <summary>
/// Runs before every dashboard page handler. No session: GETs go to sign-in (with where they were
/// going), anything else is 401. Every POST must carry the session's synchronizer token in the
/// form field <c>csrf</c> and, when the browser sends one, an Origin of this host; a read-only session's
/// POSTs are refused (403) whatever the page shows. Failures are answered here: the handler never runs.
/// </summary>
public sealed class DashboardPageFilter(DashboardSessions sessions) : IAsyncPageFilter
{
    public const string CsrfField = "csrf";

    public Task OnPageHandlerSelectionAsync(PageHandlerSelectedContext context) => Task.CompletedTask;

    public async Task OnPageHandlerExecutionAsync(PageHandlerExecutingContext context, PageHandlerExecutionDelegate next)
    {
        var http = context.HttpContext;
        var isPost = HttpMethods.IsPost(http.Request.Method);
        if (isPost && !SameOrigin(http.Request))
        {
            context.Result = Refuse(403, "This form was sent from another site; it was refused and nothing changed.");
            return;
        }
        var anonymous = context.ActionDescriptor.ModelTypeInfo?.GetCustomAttributes(typeof(AnonymousPageAttribute), true).Length > 0;
        if (!anonymous)
        {
            var viewer = await sessions.ResolveAsync(http, http.RequestAborted);
            if (viewer is null)
            {
                context.Result = isPost
                    ? Refuse(401, "Your session has ended; sign in again. Nothing changed.")
                    : new RedirectResult("/ui/signin?return=" + Uri.EscapeDataString(http.Request.Path + http.Request.QueryString));
                return;
            }
            http.Items[typeof(Viewer)] = viewer;
            if (isPost)
            {
                var form = http.Request.HasFormContentType ? await http.Request.ReadFormAsync(http.RequestAborted) : null;
                if (!DashboardSessions.CsrfMatches(viewer, form?[CsrfField].ToString()))
                {
                    context.Result = Refuse(403, "This form's security token is missing or stale; reload the page and try again. Nothing changed.");
                    return;
                }
                var allowedReadOnly = context.HandlerMethod?.MethodInfo.GetCustomAttributes(typeof(AllowedReadOnlyAttribute), false).Length > 0;
                if (viewer.ReadOnly && !allowedReadOnly)
                {
                    context.Result = Refuse(403, "This API key is read-only: it may view, and change nothing. Nothing changed.");
                    return;
                }
            }
        }
        await next();
    }

    /// <summary>
    /// Browsers send Origin on every POST; a missing one (an old browser, a script) falls back on the
    /// CSRF token alone. When present it must be this host, exactly.
    /// </summary>
    private static bool SameOrigin(HttpRequest request)
    {
        var origin = request.Headers.Origin.ToString();
        if (string.IsNullOrEmpty(origin)) return true;
        if (!Uri.TryCreate(origin, UriKind.Absolute, out var o)) return false;
        // The host only: behind a TLS proxy this process may see http where the browser saw https.
        return string.Equals(o.Authority, request.Host.Value, StringComparison.OrdinalIgnoreCase);
    }

    private static ContentResult Refuse(int status, string message) => new()
    {
        StatusCode = status,
        ContentType = "text/html; charset=utf-8",
        Content = "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Refused · jobplane</title></head><body><main><h1>Refused</h1><p role=\"alert\">"
            + System.Net.WebUtility.HtmlEncode(message) + "</p><p><a href=\"/ui\">Back to the dashboard</a></p></main></body></html>",
    };
}
