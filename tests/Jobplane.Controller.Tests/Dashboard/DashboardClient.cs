using System.Net;
using System.Text.RegularExpressions;
using Jobplane.Testing;
using Microsoft.AspNetCore.Mvc.Testing.Handlers;

namespace Jobplane.Controller.Tests.Dashboard;

/// <summary>
/// A browser-like client for the dashboard pages of an in-process controller: it keeps cookies,
/// follows no redirects (tests look at them), and posts forms with the CSRF token of the last page it
/// read, as a browser posting a form from that page would.
/// </summary>
public sealed partial class DashboardClient : IDisposable
{
    private readonly HttpClient _http;

    public DashboardClient(ControllerHost host)
    {
        Cookies = new CookieContainerHandler { InnerHandler = host.CreateHandler() };
        _http = new HttpClient(Cookies) { BaseAddress = host.BaseAddress };
    }

    public CookieContainerHandler Cookies { get; }

    /// <summary>The CSRF token of the last page read (empty before any page that has a form).</summary>
    public string Csrf { get; private set; } = "";

    /// <summary>Signs in with <paramref name="key"/>; returns the sign-in answer (303 on success).</summary>
    public async Task<HttpResponseMessage> SignInAsync(string key)
    {
        var form = await GetAsync("/ui/signin");
        var presign = PreSign().Match(form.Html).Groups[1].Value;
        return await SendFormAsync("/ui/signin", [new("key", key), new("presign", presign), new("return", "/ui")]);
    }

    public async Task<(HttpStatusCode Status, string Html, HttpResponseMessage Response)> GetAsync(string path)
    {
        var response = await _http.GetAsync(path);
        var html = await response.Content.ReadAsStringAsync();
        if (CsrfField().Match(html) is { Success: true } m) Csrf = WebUtility.HtmlDecode(m.Groups[1].Value);
        return (response.StatusCode, html, response);
    }

    /// <summary>Posts a form with the current CSRF token added.</summary>
    public Task<HttpResponseMessage> PostFormAsync(string path, params (string Name, string Value)[] fields) =>
        SendFormAsync(path, [.. fields.Select(f => new KeyValuePair<string, string>(f.Name, f.Value)), new("csrf", Csrf)]);

    /// <summary>Posts exactly these fields (no CSRF token added).</summary>
    public async Task<HttpResponseMessage> SendFormAsync(string path, IEnumerable<KeyValuePair<string, string>> fields, string? origin = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = new FormUrlEncodedContent(fields) };
        if (origin is not null) request.Headers.Add("Origin", origin);
        return await _http.SendAsync(request);
    }

    public void Dispose() => _http.Dispose();

    [GeneratedRegex("name=\"csrf\" value=\"([^\"]*)\"")]
    private static partial Regex CsrfField();

    [GeneratedRegex("name=\"presign\" value=\"([^\"]*)\"")]
    private static partial Regex PreSign();
}
