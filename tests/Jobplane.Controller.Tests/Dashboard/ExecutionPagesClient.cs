using System.Net;
using System.Text.RegularExpressions;
using Jobplane.Testing;
using Microsoft.AspNetCore.Mvc.Testing.Handlers;

namespace Jobplane.Controller.Tests.Dashboard;

/// <summary>
/// A browser-like client of the dashboard over HTTP: it keeps cookies, follows no redirects (tests
/// see the 303s), and sends with every form the session's CSRF token scraped from the last page it
/// read, as a browser would post the form it was shown.
/// </summary>
public sealed class ExecutionPagesClient : IDisposable
{
    private readonly HttpClient _http;

    public ExecutionPagesClient(ControllerHost host)
    {
        Cookies = new CookieContainer();
        _http = new HttpClient(new CookieContainerHandler(Cookies) { InnerHandler = host.CreateHandler() }) { BaseAddress = host.BaseAddress };
    }

    public CookieContainer Cookies { get; }

    /// <summary>The HttpClient with this client's cookies, for requests the helpers do not cover (a stream).</summary>
    public HttpClient Http => _http;

    /// <summary>The session's CSRF token as the last page read carried it; null before a signed-in page was read.</summary>
    public string? Csrf { get; private set; }

    /// <summary>Signs in with an API key or the administrator secret through the sign-in form, then reads the overview (and its CSRF token).</summary>
    public async Task SignInAsync(string key)
    {
        var (status, form) = await GetAsync("/ui/signin");
        Assert.Equal(HttpStatusCode.OK, status);
        var presign = HiddenValue(form, "presign") ?? throw new Xunit.Sdk.XunitException("the sign-in form has no presign field");
        using var response = await _http.PostAsync("/ui/signin", new FormUrlEncodedContent(
            [new("key", key), new("presign", presign), new("return", "/ui")]));
        Assert.True(response.StatusCode == HttpStatusCode.SeeOther,
            $"sign-in answered {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
        var (overview, _) = await GetAsync("/ui");
        Assert.Equal(HttpStatusCode.OK, overview);
        Assert.NotNull(Csrf);
    }

    public async Task<(HttpStatusCode Status, string Html)> GetAsync(string path)
    {
        using var response = await _http.GetAsync(path);
        var html = await response.Content.ReadAsStringAsync();
        if (HiddenValue(html, "csrf") is { } token) Csrf = token;
        return (response.StatusCode, html);
    }

    /// <summary>
    /// Posts a form (fields may repeat, as checkboxes do) with the CSRF token of the last page read
    /// added, unless <paramref name="withCsrf"/> is false. Location: where a 303 sends the browser.
    /// </summary>
    public async Task<(HttpStatusCode Status, string Html, string? Location)> PostFormAsync(string path,
        IEnumerable<KeyValuePair<string, string>> fields, bool withCsrf = true)
    {
        var all = fields.ToList();
        if (withCsrf) all.Add(new("csrf", Csrf ?? throw new InvalidOperationException("no page with a CSRF token was read yet")));
        using var response = await _http.PostAsync(path, new FormUrlEncodedContent(all));
        var html = await response.Content.ReadAsStringAsync();
        if (HiddenValue(html, "csrf") is { } token) Csrf = token;
        return (response.StatusCode, html, response.Headers.Location?.OriginalString);
    }

    public Task<(HttpStatusCode Status, string Html, string? Location)> PostFormAsync(string path, params (string Name, string Value)[] fields) =>
        PostFormAsync(path, fields.Select(f => new KeyValuePair<string, string>(f.Name, f.Value)));

    /// <summary>The decoded value of the first input named <paramref name="name"/> in <paramref name="html"/>, or null.</summary>
    public static string? HiddenValue(string html, string name)
    {
        var match = Regex.Match(html, $"<input[^>]*name=\"{Regex.Escape(name)}\"[^>]*value=\"([^\"]*)\"");
        return match.Success ? WebUtility.HtmlDecode(match.Groups[1].Value) : null;
    }

    public void Dispose() => _http.Dispose();
}
