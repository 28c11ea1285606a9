using Microsoft.AspNetCore.Mvc;

namespace Jobplane.Controller.Dashboard;

/// <summary>303 See Other: after a form's POST, the browser fetches the page with GET (post/redirect/get).</summary>
public sealed class SeeOther(string url) : IActionResult
{
    public string Url { get; } = url;

    public Task ExecuteResultAsync(ActionContext context)
    {
        context.HttpContext.Response.StatusCode = StatusCodes.Status303SeeOther;
        context.HttpContext.Response.Headers.Location = Url;
        return Task.CompletedTask;
    }

    /// <summary>Only a path of this dashboard: a "return" value can never send the browser elsewhere.</summary>
    public static string Local(string? url) =>
        url is { Length: > 0 and < 2000 } u && u.StartsWith("/ui", StringComparison.Ordinal) && !u.StartsWith("//", StringComparison.Ordinal)
            && !u.Contains('\\', StringComparison.Ordinal) && Uri.IsWellFormedUriString(u, UriKind.Relative)
            ? u : "/ui";
}
