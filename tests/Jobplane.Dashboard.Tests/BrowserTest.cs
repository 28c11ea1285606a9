namespace Jobplane.Dashboard.Tests;

/// <summary>
/// The base of a browser test class: one platform and one Chromium for the class, and for each test
/// a fresh browser context (no cookies from another test) with one page open on the platform.
/// </summary>
public abstract class BrowserTest(DashboardPlatform platform, DashboardBrowser browser)
    : IClassFixture<DashboardPlatform>, IClassFixture<DashboardBrowser>, IAsyncLifetime
{
    // Pages here wait on real processes (a worker's heartbeat, a job's next line) on a shared
    // machine: an expectation waits up to 15 s before it fails, not Playwright's 5.
    static BrowserTest() => Assertions.SetDefaultExpectTimeout(15_000);

    protected DashboardPlatform Platform { get; } = platform;
    protected IBrowserContext Context { get; private set; } = null!;
    protected IPage Page { get; private set; } = null!;

    /// <summary>True: the class's browser contexts ignore the pages' Content-Security-Policy.</summary>
    protected virtual bool BypassCsp => false;

    public virtual async Task InitializeAsync()
    {
        Context = await browser.NewContextAsync(Platform.Url, bypassCsp: BypassCsp);
        Page = await Context.NewPageAsync();
    }

    public virtual async Task DisposeAsync() => await Context.CloseAsync();

    /// <summary>The page's main content (what is under the navigation).</summary>
    protected ILocator Main => Page.Locator("main");

    protected Task SignInAsync(string key) => DashboardBrowser.SignInAsync(Page, key);

    protected static ILocatorAssertions Expect(ILocator locator) => Assertions.Expect(locator);
    protected static IPageAssertions Expect(IPage page) => Assertions.Expect(page);
}
