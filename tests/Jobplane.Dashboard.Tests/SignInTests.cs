using System.Text.RegularExpressions;

namespace Jobplane.Dashboard.Tests;

/// <summary>Signing in to the dashboard and out again, in a real browser, as a person would.</summary>
public sealed class SignInTests(DashboardPlatform platform, DashboardBrowser browser) : BrowserTest(platform, browser)
{
    private static readonly string[] SessionCookies = ["jp_session", "__Host-jp_session"];
    private static readonly Regex SignInUrl = new(@"^https?://[^/]+/ui/signin(\?.*)?$");

    private ILocator KeyField => Page.GetByLabel("API key or administrator secret");
    private ILocator SignInButton => Page.GetByRole(AriaRole.Button, new() { Name = "Sign in" });

    [Fact]
    public async Task Sign_in_page_passes_axe()
    {
        await Page.GotoAsync("/ui/signin");
        await Expect(Page.Locator("main h1")).ToHaveCountAsync(1);
        await Expect(KeyField).ToHaveAttributeAsync("type", "password");

        await Axe.CheckAsync(Page, "sign-in");
    }

    [Fact]
    public async Task A_wrong_key_shows_the_alert_and_sets_no_session_cookie()
    {
        await Page.GotoAsync("/ui/signin");
        await KeyField.FillAsync("jp_this-key-was-never-issued-0123456789");
        await SignInButton.ClickAsync();

        await Expect(Page.GetByRole(AriaRole.Alert)).ToContainTextAsync("not accepted");
        await Expect(Page).ToHaveURLAsync(SignInUrl);
        await Expect(KeyField).ToBeVisibleAsync();
        Assert.DoesNotContain(await Context.CookiesAsync(), c => SessionCookies.Contains(c.Name));
        await Axe.CheckAsync(Page, "sign-in, key refused");
    }

    [Fact]
    public async Task A_tenant_key_signs_in_to_the_overview_with_an_http_only_strict_cookie()
    {
        var tenant = await Platform.CreateTenantAsync("signs-in");

        await DashboardBrowser.SignInAsync(Page, tenant.ApiKey);

        await Expect(Page).ToHaveURLAsync(DashboardBrowser.OverviewUrl());
        await Expect(Page.Locator("main h1")).ToContainTextAsync("signs-in");
        var session = Assert.Single(await Context.CookiesAsync(), c => SessionCookies.Contains(c.Name));
        Assert.Equal("jp_session", session.Name); // plain http: no __Host- prefix
        Assert.True(session.HttpOnly, "the session cookie is not HttpOnly");
        Assert.Equal(SameSiteAttribute.Strict, session.SameSite);
        // HttpOnly as the page's own scripts see it: the session is not readable from the page.
        Assert.DoesNotContain("jp_session", await Page.EvaluateAsync<string>("() => document.cookie"), StringComparison.Ordinal);
        // Only the administrator is offered administration.
        await Expect(Page.GetByRole(AriaRole.Navigation).GetByRole(AriaRole.Link, new() { Name = "Executions" })).ToBeVisibleAsync();
        await Expect(Page.GetByRole(AriaRole.Link, new() { Name = "Administration" })).ToHaveCountAsync(0);
        await Axe.CheckAsync(Page, "overview, tenant");
    }

    [Fact]
    public async Task The_administrator_secret_signs_in_and_is_offered_administration()
    {
        await DashboardBrowser.SignInAsync(Page, DashboardPlatform.AdminSecret);

        await Expect(Page.GetByRole(AriaRole.Navigation).GetByRole(AriaRole.Link, new() { Name = "Administration" })).ToBeVisibleAsync();
        await Axe.CheckAsync(Page, "overview, administrator");
    }

    [Fact]
    public async Task Sign_out_ends_the_session()
    {
        var tenant = await Platform.CreateTenantAsync("signs-out");
        await DashboardBrowser.SignInAsync(Page, tenant.ApiKey);
        var session = Assert.Single(await Context.CookiesAsync(), c => SessionCookies.Contains(c.Name));

        await Page.GetByRole(AriaRole.Button, new() { Name = "Sign out" }).ClickAsync();

        await Expect(Page).ToHaveURLAsync(SignInUrl);
        await Page.GotoAsync("/ui");
        await Expect(Page).ToHaveURLAsync(SignInUrl);
        await Expect(KeyField).ToBeVisibleAsync();

        // The session ended on the server, not only in this browser: its cookie, kept and sent
        // again, opens nothing.
        await Context.AddCookiesAsync([new Cookie
        {
            Name = session.Name, Value = session.Value, Domain = session.Domain, Path = session.Path,
            HttpOnly = true, SameSite = SameSiteAttribute.Strict,
        }]);
        await Page.GotoAsync("/ui");
        await Expect(Page).ToHaveURLAsync(SignInUrl);
    }
}
