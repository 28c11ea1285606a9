namespace Jobplane.Dashboard.Tests;

/// <summary>
/// axe on many pages in one test: each page's row goes to the report as it is checked, and the test
/// fails at the end naming every page with any violation, not only the first.
/// </summary>
public sealed class AxeSweep(IPage page)
{
    private readonly List<string> _failures = [];

    /// <summary>
    /// Opens <paramref name="path"/>, waits until its main content shows each of <paramref name="shows"/>
    /// (the data the check is meant to see), and checks it.
    /// </summary>
    public async Task VisitAsync(string name, string path, params string[] shows)
    {
        var response = await page.GotoAsync(path);
        Assert.True(response?.Status == 200, $"{name}: {path} answered {response?.Status}");
        await Assertions.Expect(page.Locator("main h1")).ToBeVisibleAsync();
        foreach (var text in shows) await Assertions.Expect(page.Locator("main")).ToContainTextAsync(text);
        await CheckAsync(name);
    }

    /// <summary>Checks the page as it is now (after whatever the test did on it).</summary>
    public async Task CheckAsync(string name)
    {
        var violations = await Axe.RunAsync(page);
        AxeReport.Record(name, page.Url, violations);
        var failing = violations.Where(v => Axe.Failing.Contains(v.Impact)).ToList();
        if (failing.Count > 0) _failures.Add($"{name} ({page.Url}):\n{Axe.Describe(failing)}");
    }

    /// <summary>Fails listing every page checked that has violations.</summary>
    public void AssertNoneFailed()
    {
        if (_failures.Count > 0) Assert.Fail($"{_failures.Count} pages have accessibility violations:\n{string.Join("\n", _failures)}");
    }
}
