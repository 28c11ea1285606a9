using System.Net;
using System.Net.Http.Headers;
using System.Text.RegularExpressions;
using Jobplane.Testing;
using Microsoft.AspNetCore.Mvc.Testing.Handlers;

namespace Jobplane.Controller.Tests.Dashboard;

/// <summary>One answer of the dashboard: its status, its HTML, where a redirect sends the browser, its headers.</summary>
public sealed record DashboardAnswer(HttpStatusCode Status, string Html, string? Location, HttpResponseHeaders Headers)
{
    public void Deconstruct(out HttpStatusCode status, out string html) => (status, html) = (Status, Html);

    public void Deconstruct(out HttpStatusCode status, out string html, out string? location) => (status, html, location) = (Status, Html, Location);
}

/// <summary>
/// The dashboard as a browser without JavaScript uses it: cookies kept in a real cookie container,
/// and each form sent with the CSRF token of the last page read, as a browser posts the form it was
/// shown. With <c>followRedirects</c> a redirect is followed with GET (post/redirect/get) and the
/// answer is the page it lands on; without, tests see the 302s and 303s themselves.
/// </summary>
public sealed partial class DashboardClient : IDisposable
{
    private readonly bool _follow;

    public DashboardClient(ControllerHost host, bool followRedirects = false)
    {
        _follow = followRedirects;
        Http = new HttpClient(new CookieContainerHandler(Cookies) { InnerHandler = host.CreateHandler() }) { BaseAddress = host.BaseAddress };
    }

    public CookieContainer Cookies { get; } = new();

    /// <summary>The HttpClient with this client's cookies, for requests the helpers do not cover (a stream).</summary>
    public HttpClient Http { get; }

    /// <summary>The session's CSRF token as the last page read carried it; null before a page with a form was read.</summary>
    public string? Csrf { get; private set; }

    /// <summary>The last page read.</summary>
    public string LastHtml { get; private set; } = "";

    /// <summary>Where the last POST redirected to (null when it answered a page itself).</summary>
    public string? LastRedirect { get; private set; }

    /// <summary>Posts the sign-in form (with its paired token) and returns the answer as it is: 303 on success.</summary>
    public async Task<HttpResponseMessage> TrySignInAsync(string key)
    {
        using var form = await Http.GetAsync("/ui/signin");
        Assert.Equal(HttpStatusCode.OK, form.StatusCode);
        var presign = Field(await form.Content.ReadAsStringAsync(), "presign") ?? throw new Xunit.Sdk.XunitException("the sign-in form has no presign field");
        return await Http.PostAsync("/ui/signin", new FormUrlEncodedContent([new("key", key), new("presign", presign), new("return", "/ui")]));
    }

    /// <summary>Signs in with an API key or the administrator secret, failing the test if refused, then reads the overview (and its CSRF token).</summary>
    public async Task SignInAsync(string key)
    {
        using var answer = await TrySignInAsync(key);
        Assert.True(answer.StatusCode == HttpStatusCode.SeeOther, $"sign-in answered {(int)answer.StatusCode}: {await answer.Content.ReadAsStringAsync()}");
        Assert.Equal(HttpStatusCode.OK, (await GetAsync("/ui")).Status);
        Assert.NotNull(Csrf);
    }

    public async Task<DashboardAnswer> GetAsync(string path)
    {
        for (var hops = 0; hops < 5; hops++)
        {
            var answer = await SendAsync(new HttpRequestMessage(HttpMethod.Get, path));
            if (!_follow || !IsRedirect(answer.Status) || answer.Location is null) return answer;
            path = answer.Location;
        }
        throw new Xunit.Sdk.XunitException($"too many redirects from {path}");
    }

    /// <summary>
    /// Posts a form (fields may repeat, as checkboxes do) with the CSRF token of the last page read
    /// added, unless <paramref name="csrf"/> is false; with an Origin header when one is given.
    /// </summary>
    public async Task<DashboardAnswer> PostFormAsync(string path, IEnumerable<KeyValuePair<string, string>> fields, bool csrf = true, string? origin = null)
    {
        var all = fields.ToList();
        if (csrf) all.Add(new("csrf", Csrf ?? throw new InvalidOperationException("no page with a CSRF token was read yet")));
        var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = new FormUrlEncodedContent(all) };
        if (origin is not null) request.Headers.Add("Origin", origin);
        var answer = await SendAsync(request);
        LastRedirect = IsRedirect(answer.Status) ? answer.Location : null;
        return _follow && LastRedirect is not null ? await GetAsync(LastRedirect) : answer;
    }

    public Task<DashboardAnswer> PostFormAsync(string path, IEnumerable<(string Name, string Value)> fields, bool csrf = true) =>
        PostFormAsync(path, fields.Select(f => new KeyValuePair<string, string>(f.Name, f.Value)), csrf);

    public Task<DashboardAnswer> PostFormAsync(string path, params (string Name, string Value)[] fields) =>
        PostFormAsync(path, fields.Select(f => new KeyValuePair<string, string>(f.Name, f.Value)));

    /// <summary>A page's text as a reader sees it: entities decoded (so “quotes” and apostrophes compare as typed).</summary>
    public static string Text(string html) => WebUtility.HtmlDecode(html);

    /// <summary>The decoded value of the first input named <paramref name="name"/> in <paramref name="html"/>, or null.</summary>
    public static string? Field(string html, string name)
    {
        var match = Regex.Match(html, $"<input[^>]*name=\"{Regex.Escape(name)}\"[^>]*value=\"([^\"]*)\"");
        return match.Success ? WebUtility.HtmlDecode(match.Groups[1].Value) : null;
    }

    /// <summary>The POST forms of a page, by their action, leaving out the layout's sign-out form.</summary>
    public static IReadOnlyList<string> PostForms(string html) =>
        [.. FormAction().Matches(html).Select(m => WebUtility.HtmlDecode(m.Groups[1].Value)).Where(a => a != "/ui/signout")];

    /// <summary>The table row (tr) of <paramref name="html"/> that holds <paramref name="marker"/>.</summary>
    public static string Row(string html, string marker)
    {
        var at = html.IndexOf(marker, StringComparison.Ordinal);
        Assert.True(at >= 0, $"'{marker}' is not on the page");
        var start = html.LastIndexOf("<tr", at, StringComparison.Ordinal);
        var end = html.IndexOf("</tr>", at, StringComparison.Ordinal);
        Assert.True(start >= 0 && end > at, $"'{marker}' is not in a table row");
        return html[start..end];
    }

    private async Task<DashboardAnswer> SendAsync(HttpRequestMessage request)
    {
        using (request)
        using (var response = await Http.SendAsync(request))
        {
            var html = await response.Content.ReadAsStringAsync();
            if (Field(html, "csrf") is { } token) Csrf = token;
            LastHtml = html;
            return new DashboardAnswer(response.StatusCode, html, response.Headers.Location?.OriginalString, response.Headers);
        }
    }

    private static bool IsRedirect(HttpStatusCode status) => (int)status is 301 or 302 or 303 or 307 or 308;

    [GeneratedRegex("<form[^>]*method=\"post\"[^>]*action=\"([^\"]*)\"", RegexOptions.IgnoreCase)]
    private static partial Regex FormAction();

    public void Dispose() => Http.Dispose();
}
