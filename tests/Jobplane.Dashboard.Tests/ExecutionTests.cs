using System.Text.RegularExpressions;
using Jobplane.Api;

namespace Jobplane.Dashboard.Tests;

/// <summary>
/// The executions list and an execution's page on a real exec worker: filtering by status through
/// the form, cancelling the selection and all that match, a running job's log and status followed
/// live (Server-Sent Events, no reload), and a running job cancelled from its page until it is seen
/// to end.
/// </summary>
public sealed class ExecutionTests(DashboardPlatform platform, DashboardBrowser browser) : BrowserTest(platform, browser)
{
    private ILocator Rows => Page.Locator("table.executions tbody tr");
    private ILocator LiveStatus => Page.Locator("[data-live-status]");
    // The log's <pre>: its section is a region named "Log" too (axe's moderate landmark-unique).
    private ILocator Log => Page.Locator("pre.log");
    private ILocator Timeline => Page.Locator("ol.timeline");

    [Fact]
    public async Task Filtering_by_status_in_the_form_shows_only_matching_executions()
    {
        await Platform.WorkerAsync();
        var tenant = await Platform.CreateTenantAsync("filters");
        var passes = await DashboardPlatform.CreateJobAsync(tenant, "passes", ["true"]);
        var fails = await DashboardPlatform.CreateJobAsync(tenant, "fails", ["sh", "-c", "exit 3"]);
        var runs = new List<(Guid Id, string Status)>();
        for (var i = 0; i < 2; i++)
        {
            runs.Add((await DashboardPlatform.RunAsync(tenant, passes), ExecutionStatus.Succeeded));
            runs.Add((await DashboardPlatform.RunAsync(tenant, fails), ExecutionStatus.Failed));
        }
        foreach (var (id, status) in runs) await DashboardPlatform.WaitForStatusAsync(tenant, id, status, TimeSpan.FromSeconds(60));

        await SignInAsync(tenant.ApiKey);
        await Page.GotoAsync("/ui/executions");
        await Expect(Rows).ToHaveCountAsync(4);

        var failed = Page.GetByRole(AriaRole.Checkbox, new() { Name = "FAILED", Exact = true });
        await failed.CheckAsync();
        await Page.GetByRole(AriaRole.Button, new() { Name = "Filter", Exact = true }).ClickAsync();

        await Expect(Page).ToHaveURLAsync(new Regex(@"/ui/executions\?status=FAILED(&|$)"));
        await Expect(failed).ToBeCheckedAsync();
        await Expect(Rows).ToHaveCountAsync(2);
        await Expect(Rows.Locator(".status")).ToHaveTextAsync(["FAILED", "FAILED"]);
        await Expect(Rows.GetByRole(AriaRole.Link, new() { Name = "fails" })).ToHaveCountAsync(2);
        await Expect(Rows.GetByRole(AriaRole.Link, new() { Name = "passes" })).ToHaveCountAsync(0);

        // The other way round, from the filtered page.
        await failed.UncheckAsync();
        await Page.GetByRole(AriaRole.Checkbox, new() { Name = "SUCCEEDED", Exact = true }).CheckAsync();
        await Page.GetByRole(AriaRole.Button, new() { Name = "Filter", Exact = true }).ClickAsync();

        await Expect(Page).ToHaveURLAsync(new Regex(@"/ui/executions\?status=SUCCEEDED(&|$)"));
        await Expect(Rows.Locator(".status")).ToHaveTextAsync(["SUCCEEDED", "SUCCEEDED"]);
        await Expect(Rows.GetByRole(AriaRole.Link, new() { Name = "fails" })).ToHaveCountAsync(0);
    }

    [Fact]
    public async Task Cancelling_the_selection_and_then_all_matching_from_the_list()
    {
        var tenant = await Platform.CreateTenantAsync("bulk-cancels");
        var job = await DashboardPlatform.CreateJobAsync(tenant, "later", ["true"]);
        var later = new RunJobRequest { ScheduledAt = DateTimeOffset.UtcNow.AddHours(6) };
        var runs = new List<Guid>();
        for (var i = 0; i < 4; i++) runs.Add(await DashboardPlatform.RunAsync(tenant, job, later));

        await SignInAsync(tenant.ApiKey);
        await Page.GotoAsync("/ui/executions?status=SCHEDULED");
        await Expect(Rows).ToHaveCountAsync(4);
        var dialogs = new List<string>();
        Page.Dialog += async (_, dialog) =>
        {
            dialogs.Add(dialog.Message);
            await dialog.AcceptAsync();
        };

        // Two selected, after the browser's confirmation.
        await Page.GetByRole(AriaRole.Checkbox, new() { Name = $"Select execution {runs[0].ToString()[^8..]}" }).CheckAsync();
        await Page.GetByRole(AriaRole.Checkbox, new() { Name = $"Select execution {runs[1].ToString()[^8..]}" }).CheckAsync();
        await Page.GetByRole(AriaRole.Button, new() { Name = "Cancel selected" }).ClickAsync();
        await Expect(Page.GetByRole(AriaRole.Status)).ToHaveTextAsync("Cancelled or asked to stop: 2.");
        Assert.Equal(["Act on the selected executions?"], dialogs);
        await Expect(Rows).ToHaveCountAsync(2);

        // The rest, counted and confirmed on the page.
        await Page.GetByRole(AriaRole.Button, new() { Name = "Cancel all matching…" }).ClickAsync();
        await Expect(Page.GetByRole(AriaRole.Heading, new() { Name = "Cancel 2 matching executions?" })).ToBeVisibleAsync();
        await Page.GetByRole(AriaRole.Button, new() { Name = "Cancel 2 executions" }).ClickAsync();
        await Expect(Page.GetByRole(AriaRole.Status)).ToHaveTextAsync("Cancelled or asked to stop: 2.");
        await Expect(Main).ToContainTextAsync("No executions match this filter.");

        await Page.GotoAsync("/ui/executions?status=CANCELLED");
        await Expect(Rows.Locator(".status")).ToHaveTextAsync(["CANCELLED", "CANCELLED", "CANCELLED", "CANCELLED"]);
    }

    [Fact]
    public async Task A_running_execution_s_log_and_status_follow_live_without_a_reload()
    {
        await Platform.WorkerAsync();
        var tenant = await Platform.CreateTenantAsync("follows");
        using var gate = new Gate();
        var job = await DashboardPlatform.CreateJobAsync(tenant, "waits-for-the-gate", gate.WaitCommand("before the gate", "after the gate"));
        var id = await DashboardPlatform.RunAsync(tenant, job);
        await DashboardPlatform.WaitForStatusAsync(tenant, id, ExecutionStatus.Running, TimeSpan.FromSeconds(60));

        await SignInAsync(tenant.ApiKey);
        await Page.GotoAsync($"/ui/executions/{id}");
        await Expect(LiveStatus).ToHaveTextAsync("RUNNING");
        await Expect(Log).ToContainTextAsync("before the gate");
        await Expect(Log).Not.ToContainTextAsync("after the gate");
        // Marks this document: a reload would make a new one, without the mark.
        await Page.EvaluateAsync("() => { window.__samePage = true; }");

        // The job prints its second line only now, after the page has loaded.
        gate.Open();

        await Expect(Log).ToContainTextAsync("after the gate");
        await Expect(LiveStatus).ToHaveTextAsync("SUCCEEDED");
        await Expect(LiveStatus).ToHaveClassAsync(new Regex(@"\bstatus-succeeded\b"));
        await Expect(Page.Locator("[data-live-note]")).ToContainTextAsync("has finished");
        Assert.True(await Page.EvaluateAsync<bool>("() => window.__samePage === true"), "the page was reloaded: the line did not arrive live");
        // The line came through the stream: the script appends each streamed line as a span of its own.
        await Expect(Log.Locator("span", new() { HasText = "after the gate" })).ToHaveCountAsync(1);

        // Read again, the finished page has the whole story.
        await Page.ReloadAsync();
        await Expect(LiveStatus).ToHaveTextAsync("SUCCEEDED");
        await Expect(Log).ToContainTextAsync("before the gate\nafter the gate");
        await Expect(Timeline).ToContainTextAsync("Submitted; ready to run.");
        await Expect(Timeline).ToContainTextAsync("Attempt 1 started on worker");
        await Expect(Timeline).ToContainTextAsync("Attempt 1 succeeded.");
    }

    [Fact]
    public async Task Cancelling_a_running_execution_from_its_page_stops_it_and_the_page_shows_it_ended()
    {
        await Platform.WorkerAsync();
        var tenant = await Platform.CreateTenantAsync("cancels");
        var job = await DashboardPlatform.CreateJobAsync(tenant, "sleeps", ["sh", "-c", "echo 'going to sleep'; exec sleep 300"]);
        var id = await DashboardPlatform.RunAsync(tenant, job);
        await DashboardPlatform.WaitForStatusAsync(tenant, id, ExecutionStatus.Running, TimeSpan.FromSeconds(60));

        await SignInAsync(tenant.ApiKey);
        await Page.GotoAsync($"/ui/executions/{id}");
        await Expect(LiveStatus).ToHaveTextAsync("RUNNING");
        await Expect(Log).ToContainTextAsync("going to sleep");

        string? asked = null;
        Page.Dialog += async (_, dialog) =>
        {
            asked = dialog.Message;
            await dialog.AcceptAsync();
        };
        await Page.GetByRole(AriaRole.Button, new() { Name = "Cancel (stop it)" }).ClickAsync();

        await Expect(Page.GetByRole(AriaRole.Status)).ToHaveTextAsync("Cancelled or asked to stop: 1.");
        Assert.Equal("Cancel this execution?", asked);
        // The worker stops it at its next heartbeat; the page, following it, shows the end.
        await Expect(LiveStatus).ToHaveTextAsync("CANCELLED", new() { Timeout = 30_000 });
        await Expect(Page.GetByRole(AriaRole.Button, new() { Name = "Cancel (stop it)" })).ToHaveCountAsync(0);
        var ended = (await tenant.Client.GetExecutionAsync(id, CancellationToken.None)).Value;
        Assert.Equal(ExecutionStatus.Cancelled, ended.Status);

        await Page.ReloadAsync();
        await Expect(LiveStatus).ToHaveTextAsync("CANCELLED");
        await Expect(Timeline).ToContainTextAsync("Cancel requested: the worker stops it at its next heartbeat.");
        await Expect(Timeline).ToContainTextAsync("Attempt 1 stopped after the cancel: the execution ended cancelled.");
        await Expect(Page.GetByRole(AriaRole.Button, new() { Name = "Cancel", Exact = false })).ToHaveCountAsync(0);
    }
}
