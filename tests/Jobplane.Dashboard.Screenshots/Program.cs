using System.Text.RegularExpressions;
using Jobplane.Dashboard.Screenshots;
using Jobplane.Testing.Dashboard;
using Jobplane.Testing.Processes;
using Microsoft.Playwright;

// Writes PNGs of the dashboard's main pages, on a platform of real processes with demo data, for
// the README. Usage: jobplane-dashboard-screenshots [--out FOLDER] (default: docs/screenshots).
// A page that does not answer 200 is named and the program ends with 1 after writing the others.

var output = args is ["--out", var folder] ? Path.GetFullPath(folder) : Path.Combine(RepositoryRoot.Find(), "docs", "screenshots");
Directory.CreateDirectory(output);

await using var run = new ScreenshotRun(output);
return await run.RunAsync();

namespace Jobplane.Dashboard.Screenshots
{
    internal sealed class ScreenshotRun(string output) : IAsyncDisposable
    {
        private readonly DashboardPlatform _platform = new();
        private readonly DashboardBrowser _browser = new();
        private readonly List<string> _failed = [];

        public async Task<int> RunAsync()
        {
            Console.Error.WriteLine("starting the platform and the browser");
            // The overview's queue figures are read every second, so that they show the demo's runs.
            _platform.ControllerSettings["QUEUE_METRICS_INTERVAL"] = "1s";
            await _platform.InitializeAsync();
            await _browser.InitializeAsync();
            var demo = await DemoData.CreateAsync(_platform);

            await using (var tenant = await _browser.Browser.NewContextAsync(Options()))
            {
                var page = await tenant.NewPageAsync();
                await DashboardBrowser.SignInAsync(page, demo.Tenant.ApiKey);
                await ShootAsync(page, "overview", "/ui", RunningShownAsync);
                await ShootAsync(page, "executions-failed", "/ui/executions?status=FAILED",
                    p => Assertions.Expect(p.Locator("table.executions tbody tr .status")).ToHaveTextAsync(["FAILED", "FAILED", "FAILED"]));
                await ShootAsync(page, "execution-live", $"/ui/executions/{demo.LiveExecution}", async p =>
                {
                    await Assertions.Expect(p.Locator("ol.timeline")).ToContainTextAsync("Attempt 1 started on worker");
                    // The live log has caught up with the running job: a few of its lines are shown, some streamed in.
                    await Assertions.Expect(p.Locator("pre.log")).ToContainTextAsync(new Regex(@"resized image [3-9] of 900"));
                });
                await ShootAsync(page, "workers", "/ui/workers", p => Assertions.Expect(p.Locator("main table")).ToContainTextAsync("connected"));
            }
            await using (var admin = await _browser.Browser.NewContextAsync(Options()))
            {
                var page = await admin.NewPageAsync();
                await DashboardBrowser.SignInAsync(page, DashboardPlatform.AdminSecret);
                await ShootAsync(page, "administration", "/ui/admin", p => Assertions.Expect(p.Locator("main table")).ToContainTextAsync("globex"));
            }

            if (_failed.Count == 0) return 0;
            Console.Error.WriteLine($"not written: {string.Join(", ", _failed)}");
            return 1;
        }

        private BrowserNewContextOptions Options() => new()
        {
            BaseURL = _platform.Url.AbsoluteUri.TrimEnd('/'),
            ViewportSize = new ViewportSize { Width = 1280, Height = 800 },
            Locale = "en-GB",
            TimezoneId = "UTC",
        };

        private async Task ShootAsync(IPage page, string name, string path, Func<IPage, Task>? ready = null)
        {
            var response = await page.GotoAsync(path);
            if (response is not { Status: 200 })
            {
                Console.Error.WriteLine($"{name}: {path} answered {response?.Status.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "nothing"}; no screenshot");
                _failed.Add(name);
                return;
            }
            await Assertions.Expect(page.Locator("main h1")).ToBeVisibleAsync();
            if (ready is not null) await ready(page);
            var file = Path.Combine(output, $"{name}.png");
            await page.ScreenshotAsync(new PageScreenshotOptions { Path = file, FullPage = true });
            Console.WriteLine(file);
        }

        /// <summary>
        /// The overview does not update by itself: it is read again (the queue figures are read every
        /// second) until its first figure, Running, counts the demo's live execution.
        /// </summary>
        private static async Task RunningShownAsync(IPage page)
        {
            var running = page.GetByRole(AriaRole.Definition).First;
            for (var i = 0; i < 30 && (await running.TextContentAsync())?.Trim() != "1"; i++)
            {
                await page.WaitForTimeoutAsync(1000);
                await page.ReloadAsync();
            }
            await Assertions.Expect(running).ToHaveTextAsync("1");
        }

        public async ValueTask DisposeAsync()
        {
            await _browser.DisposeAsync();
            await _platform.DisposeAsync();
        }
    }
}
