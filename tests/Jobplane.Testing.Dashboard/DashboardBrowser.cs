using System.Text.RegularExpressions;
using Microsoft.Playwright;
using Xunit;

namespace Jobplane.Testing.Dashboard;

/// <summary>
/// One headless Chromium for a test class (an xunit class fixture), with a fresh browser context
/// for each test, so that no cookie or storage of one test is seen by the next.
/// </summary>
/// <remarks>
/// Debian's Chromium is launched at <see cref="BrowserTools.Chromium"/>: Playwright's own browser
/// download is never run. Each launch gets a profile folder of its own that Playwright makes empty
/// and removes on close (it refuses a --user-data-dir argument and passes its own).
/// </remarks>
public sealed class DashboardBrowser : IAsyncLifetime
{
    /// <summary>Chromium's switches for a machine with no display, no GPU and no network beyond loopback.</summary>
    public static readonly IReadOnlyList<string> Arguments =
    [
        "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
    ];

    private IPlaywright? _playwright;
    private IBrowser? _browser;

    public IBrowser Browser => _browser ?? throw new InvalidOperationException("the browser is not started");

    public async Task InitializeAsync()
    {
        var chromium = BrowserTools.Chromium;
        _playwright = await Playwright.CreateAsync();
        _browser = await _playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = chromium,
            Headless = true,
            Args = Arguments,
        });
    }

    public async Task DisposeAsync()
    {
        if (_browser is not null) await _browser.DisposeAsync();
        _playwright?.Dispose();
    }

    /// <summary>
    /// A new, empty context whose relative URLs start at <paramref name="baseUrl"/>. The caller closes
    /// it (a test in its DisposeAsync).
    /// </summary>
    /// <param name="bypassCsp">
    /// Ignore the pages' Content-Security-Policy: for a test of the pages' escaping alone, which the
    /// policy would otherwise hide by refusing any script that got through.
    /// </param>
    public Task<IBrowserContext> NewContextAsync(Uri baseUrl, ViewportSize? viewport = null, bool bypassCsp = false) =>
        Browser.NewContextAsync(new BrowserNewContextOptions
        {
            BaseURL = baseUrl.AbsoluteUri.TrimEnd('/'),
            ViewportSize = viewport ?? new ViewportSize { Width = 1280, Height = 800 },
            Locale = "en-GB",
            TimezoneId = "UTC",
            BypassCSP = bypassCsp,
        });

    /// <summary>
    /// Signs in through the dashboard's form, as a person would, and waits until the overview
    /// (/ui) is shown. Works for a tenant's API key and for the administrator secret alike.
    /// </summary>
    public static async Task SignInAsync(IPage page, string key)
    {
        await page.GotoAsync("/ui/signin");
        await page.GetByLabel("API key or administrator secret").FillAsync(key);
        await page.GetByRole(AriaRole.Button, new() { Name = "Sign in" }).ClickAsync();
        await Assertions.Expect(page).ToHaveURLAsync(OverviewUrl());
    }

    /// <summary>The URL of the overview, /ui, on whatever origin the page is on.</summary>
    public static Regex OverviewUrl() => new(@"^https?://[^/]+/ui/?(\?.*)?$");
}
