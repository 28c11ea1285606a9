using Xunit.Sdk;

namespace Jobplane.Dashboard.Tests;

/// <summary>
/// The accessibility check itself: it passes a sound page, and fails a broken one naming what and
/// where. These pages are not the project's: they are kept out of the accessibility report.
/// </summary>
public sealed class AxeTests(DashboardBrowser browser) : IClassFixture<DashboardBrowser>, IAsyncLifetime
{
    private const string Sound = """
        <!doctype html>
        <html lang="en"><head><title>Sound</title></head>
        <body><main><h1>Sound</h1><p>Plain text.</p><button type="button">Go</button></main></body></html>
        """;

    private const string Broken = """
        <!doctype html>
        <html lang="en"><head><title>Broken</title></head>
        <body><main><h1>Broken</h1><img id="logo" src="logo.png"><button id="empty" type="button"></button></main></body></html>
        """;

    // A page of the dashboard's origin, answered by the browser itself: nothing listens there.
    private static readonly Uri Origin = new("http://127.0.0.1:9");

    private IBrowserContext _context = null!;
    private IPage _page = null!;

    public async Task InitializeAsync()
    {
        _context = await browser.NewContextAsync(Origin);
        _page = await _context.NewPageAsync();
    }

    public async Task DisposeAsync() => await _context.CloseAsync();

    [Fact]
    public async Task A_sound_page_passes()
    {
        await _page.SetContentAsync(Sound);

        var violations = await Axe.RunAsync(_page);

        Assert.DoesNotContain(violations, v => Axe.Failing.Contains(v.Impact));
        Axe.FailOnViolations("sound", _page.Url, violations);
    }

    [Fact]
    public async Task A_broken_page_fails_naming_each_rule_and_element()
    {
        await _page.SetContentAsync(Broken);

        var violations = await Axe.RunAsync(_page);
        var failure = Assert.ThrowsAny<XunitException>(() => Axe.FailOnViolations("broken", _page.Url, violations));

        Assert.Contains("broken", failure.Message, StringComparison.Ordinal);
        Assert.Contains("[critical] image-alt", failure.Message, StringComparison.Ordinal);
        Assert.Contains("#logo", failure.Message, StringComparison.Ordinal);
        Assert.Contains("[critical] button-name", failure.Message, StringComparison.Ordinal);
        Assert.Contains("#empty", failure.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Axe_runs_on_a_page_whose_policy_allows_only_its_own_scripts()
    {
        // What a dashboard page sends: no inline script may run, none from elsewhere.
        await _context.RouteAsync($"{Origin.AbsoluteUri}strict", route => route.FulfillAsync(new()
        {
            Status = 200,
            ContentType = "text/html; charset=utf-8",
            Headers = new Dictionary<string, string> { ["Content-Security-Policy"] = "default-src 'self'; script-src 'self'; object-src 'none'" },
            Body = Broken,
        }));
        await _page.GotoAsync("/strict");

        var violations = await Axe.RunAsync(_page);

        Assert.Contains(violations, v => v.Id == "image-alt");
    }

    [Fact]
    public void The_report_is_a_markdown_table_with_a_row_per_page()
    {
        var path = Path.Combine(Path.GetTempPath(), $"axe-report-{Guid.NewGuid():N}.md");
        try
        {
            AxeReport.Append(path, "sign-in", "http://127.0.0.1:5000/ui/signin",
                [new AxeViolation("color-contrast", "serious", "contrast", "https://example.invalid", ["#a", "#b"]), new AxeViolation("region", "moderate", "regions", "", ["#c"])]);
            AxeReport.Append(path, "overview", "http://127.0.0.1:5000/ui?x=1", []);

            var lines = File.ReadAllLines(path);

            Assert.Equal(
            [
                "| page | path | critical | serious | moderate | minor |",
                "| --- | --- | ---: | ---: | ---: | ---: |",
                "| sign-in | `/ui/signin` | 0 | 1 | 1 | 0 |",
                "| overview | `/ui?x=1` | 0 | 0 | 0 | 0 |",
            ], lines);
        }
        finally
        {
            File.Delete(path);
        }
    }
}
