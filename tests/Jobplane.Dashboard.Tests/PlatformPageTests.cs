namespace Jobplane.Dashboard.Tests;

/// <summary>
/// The browser reaches the controller that serves the dashboard: the pages every controller has
/// (health, the OpenAPI document) load, and axe runs on them.
/// </summary>
public sealed class PlatformPageTests(DashboardPlatform platform, DashboardBrowser browser) : BrowserTest(platform, browser)
{
    [Fact]
    public async Task Health_check_loads_in_the_browser()
    {
        var response = await Page.GotoAsync("/healthz");

        Assert.NotNull(response);
        Assert.Equal(200, response.Status);
        await Expect(Page.Locator("body")).ToContainTextAsync("\"status\"");
    }

    [Fact]
    public async Task OpenApi_document_loads_and_axe_reports_on_it()
    {
        var response = await Page.GotoAsync("/openapi.json");
        Assert.NotNull(response);
        Assert.Equal(200, response.Status);
        await Expect(Page.Locator("body")).ToContainTextAsync("\"openapi\"");

        // The browser's view of a JSON document has no language and no title: axe, really run on
        // the page, says so.
        var violations = await Axe.RunAsync(Page);
        Assert.Contains(violations, v => v.Id == "html-has-lang" && v.Impact == "serious" && v.Targets.Contains("html"));
        Assert.Contains(violations, v => v.Id == "document-title");
    }
}
