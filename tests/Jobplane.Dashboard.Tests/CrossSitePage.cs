using Jobplane.Testing.Processes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace Jobplane.Dashboard.Tests;

/// <summary>
/// A page of another site, served from a port of its own on loopback (Kestrel): what an attacker's
/// page does to a user signed in to the dashboard, posting a form to it as soon as it loads. Reached
/// as http://localhost:PORT it is another site than the dashboard's http://127.0.0.1 (the browser
/// sends no SameSite=Strict cookie with its requests); as http://127.0.0.1:PORT it is the same site
/// on another origin (the cookie goes along, and only the Origin check stands in the way).
/// </summary>
public sealed class CrossSitePage : IAsyncDisposable
{
    private readonly WebApplication _app;
    private volatile string _html = "<!doctype html><title>empty</title>";

    private CrossSitePage(WebApplication app, int port)
    {
        _app = app;
        Port = port;
    }

    public int Port { get; }

    /// <summary>Its address under <paramref name="host"/> (localhost or 127.0.0.1).</summary>
    public string Url(string host) => $"http://{host}:{Port}/";

    public static async Task<CrossSitePage> StartAsync()
    {
        var port = FreePort.Next();
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseKestrel(o => o.ListenLocalhost(port));
        var app = builder.Build();
        var page = new CrossSitePage(app, port);
        app.MapGet("/", () => Results.Content(page._html, "text/html; charset=utf-8"));
        await app.StartAsync();
        return page;
    }

    /// <summary>Serves a page that posts <paramref name="fields"/> to <paramref name="action"/> (an absolute URL) on load.</summary>
    public void PostOnLoad(string action, IEnumerable<(string Name, string Value)> fields)
    {
        var inputs = string.Concat(fields.Select(f =>
            $"<input type=\"hidden\" name=\"{System.Net.WebUtility.HtmlEncode(f.Name)}\" value=\"{System.Net.WebUtility.HtmlEncode(f.Value)}\">"));
        _html = $"""
            <!doctype html>
            <html lang="en"><head><meta charset="utf-8"><title>You have won a prize</title></head>
            <body><form id="prize" method="post" action="{System.Net.WebUtility.HtmlEncode(action)}">{inputs}</form>
            <script>document.getElementById('prize').submit();</script></body></html>
            """;
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
