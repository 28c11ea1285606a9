using System.Net;

namespace Jobplane.Controller.Dashboard;

/// <summary>
/// The page for a dashboard answer that has no page of its own: an address that does not exist, or
/// one the viewer may not know exists (a tenant asking for /ui/admin gets the same 404 as for a
/// made-up address). Plain HTML with the dashboard's stylesheet and a way back; no viewer is needed.
/// </summary>
public static class DashboardStatusPage
{
    public static Task WriteAsync(HttpContext http)
    {
        var status = http.Response.StatusCode;
        var (title, text) = status switch
        {
            404 => ("Not found", "There is no such page among the ones you can see."),
            405 => ("Not allowed", "This page does not take that kind of request."),
            413 => ("Too large", "What was sent is larger than this page accepts."),
            _ => ("Something went wrong", "The request could not be answered."),
        };
        var css = http.RequestServices.GetRequiredService<DashboardAssets>().Url("dashboard.css");
        http.Response.ContentType = "text/html; charset=utf-8";
        return http.Response.WriteAsync($"""
            <!doctype html>
            <html lang="en">
            <head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>{title} · jobplane</title><link rel="stylesheet" href="{WebUtility.HtmlEncode(css)}"></head>
            <body><main id="main"><h1>{title}</h1><p>{text} ({status})</p><p><a href="/ui">Back to the overview</a></p></main></body>
            </html>
            """);
    }
}
