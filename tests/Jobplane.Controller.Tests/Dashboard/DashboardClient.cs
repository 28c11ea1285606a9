using System.Net;
using System.Text.RegularExpressions;
using Jobplane.Testing;

namespace Jobplane.Controller.Tests.Dashboard;

/// <summary>
/// The dashboard as a browser without JavaScript uses it: cookies kept (by name; every dashboard
/// cookie is this host's), redirects followed with GET, and each form sent with the CSRF token of
/// the last page read. Answers are the status and the HTML, for tests to assert what a user sees.
/// </summary>
internal sealed partial class DashboardClient : IDisposable
{
    private readonly HttpClient _http;
    private readonly Dictionary<string, string> _cookies = new(StringComparer.Ordinal);

    public DashboardClient(ControllerHost host)
    {
        _http = new HttpClient(host.CreateHandler()) { BaseAddress = host.BaseAddress };
    }

    /// <summary>The last page read (after redirects).</summary>
    public string LastHtml { get; private set; } = "";

    /// <summary>Where the last POST redirected to (null when it answered a page itself).</summary>
    public string? LastRedirect { get; private set; }

    /// <summary>Signs in with an API key or the administrator secret through the sign-in form; fails the test if refused.</summary>
    public async Task SignInAsync(string key)
    {
        var (status, html) = await GetAsync("/ui/signin");
        Assert.Equal(HttpStatusCode.OK, status);
        using var response = await SendAsync(HttpMethod.Post, "/ui/signin",
            [new("key", key), new("presign", Field(html, "presign") ?? ""), new("return", "/ui")]);
        Assert.True(response.StatusCode == HttpStatusCode.SeeOther, $"sign-in answered {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
        // A page with forms, so the next POST has a token to send.
        Assert.Equal(HttpStatusCode.OK, (await GetAsync("/ui/jobs")).Status);
    }

    /// <summary>GET, following redirects.</summary>
    public async Task<(HttpStatusCode Status, string Html)> GetAsync(string path)
    {
        for (var hops = 0; hops < 5; hops++)
        {
            using var response = await SendAsync(HttpMethod.Get, path, null);
            if (IsRedirect(response.StatusCode) && response.Headers.Location is { } next)
            {
                path = next.OriginalString;
                continue;
            }
            LastHtml = await response.Content.ReadAsStringAsync();
            return (response.StatusCode, LastHtml);
        }
        throw new Xunit.Sdk.XunitException($"too many redirects from {path}");
    }

    /// <summary>
    /// POSTs a form with the CSRF token of the last page read (unless <paramref name="csrf"/> is false),
    /// following a redirect with GET as a browser does (post/redirect/get).
    /// </summary>
    public async Task<(HttpStatusCode Status, string Html)> PostFormAsync(string path, IEnumerable<(string Name, string Value)> fields, bool csrf = true)
    {
        var form = fields.Select(f => new KeyValuePair<string, string>(f.Name, f.Value)).ToList();
        if (csrf) form.Add(new("csrf", CsrfToken ?? throw new InvalidOperationException("the last page read has no CSRF token")));
        using var response = await SendAsync(HttpMethod.Post, path, form);
        if (IsRedirect(response.StatusCode) && response.Headers.Location is { } next)
        {
            LastRedirect = next.OriginalString;
            return await GetAsync(LastRedirect);
        }
        LastRedirect = null;
        LastHtml = await response.Content.ReadAsStringAsync();
        return (response.StatusCode, LastHtml);
    }

    public Task<(HttpStatusCode Status, string Html)> PostFormAsync(string path, params (string Name, string Value)[] fields) =>
        PostFormAsync(path, fields, csrf: true);

    /// <summary>The CSRF token of the last page read.</summary>
    public string? CsrfToken => Field(LastHtml, "csrf");

    /// <summary>A page's text as a reader sees it: entities decoded (so “quotes” and apostrophes compare as typed).</summary>
    public static string Text(string html) => WebUtility.HtmlDecode(html);

    /// <summary>The value of the first input named <paramref name="name"/> in <paramref name="html"/>.</summary>
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

    private async Task<HttpResponseMessage> SendAsync(HttpMethod method, string path, List<KeyValuePair<string, string>>? form)
    {
        using var request = new HttpRequestMessage(method, path);
        if (form is not null) request.Content = new FormUrlEncodedContent(form);
        if (_cookies.Count > 0) request.Headers.Add("Cookie", string.Join("; ", _cookies.Select(c => $"{c.Key}={c.Value}")));
        var response = await _http.SendAsync(request);
        if (response.Headers.TryGetValues("Set-Cookie", out var setCookies))
        {
            foreach (var header in setCookies)
            {
                var pair = header.Split(';', 2)[0];
                var eq = pair.IndexOf('=', StringComparison.Ordinal);
                if (eq <= 0) continue;
                var (name, value) = (pair[..eq].Trim(), pair[(eq + 1)..].Trim());
                var expired = header.Contains("expires=Thu, 01 Jan 1970", StringComparison.OrdinalIgnoreCase)
                    || header.Contains("max-age=0", StringComparison.OrdinalIgnoreCase);
                if (value.Length == 0 || expired) _cookies.Remove(name);
                else _cookies[name] = value;
            }
        }
        return response;
    }

    private static bool IsRedirect(HttpStatusCode status) => (int)status is 301 or 302 or 303 or 307 or 308;

    [GeneratedRegex("<form[^>]*method=\"post\"[^>]*action=\"([^\"]*)\"", RegexOptions.IgnoreCase)]
    private static partial Regex FormAction();

    public void Dispose() => _http.Dispose();
}
