using Jobplane.Api;

namespace Jobplane.Dashboard.Tests;

/// <summary>
/// Bulk actions on the dead letters, in the browser: retry the selection (select all, retry) and
/// retry all after the page's confirmation, and see the dead letters leave the list and their new
/// executions appear and succeed; purge all through the confirmation and the browser's own dialog.
/// The job fails while a gate file is missing and succeeds once the test opens it, so that the
/// retries do not come back as new dead letters.
/// </summary>
public sealed class DeadLetterTests(DashboardPlatform platform, DashboardBrowser browser) : BrowserTest(platform, browser)
{
    private ILocator Rows => Page.Locator("main table.grid tbody tr");

    /// <summary>A tenant whose job "<paramref name="jobName"/>" failed <paramref name="count"/> times with its only attempt: that many dead letters.</summary>
    private async Task<(PlatformTenant Tenant, Guid Job, List<Guid> Failed)> DeadLettersAsync(string tenantName, string jobName, Gate gate, int count)
    {
        await Platform.WorkerAsync();
        var tenant = await Platform.CreateTenantAsync(tenantName);
        var job = await DashboardPlatform.CreateJobAsync(tenant, jobName, gate.CheckCommand());
        var failed = new List<Guid>();
        for (var i = 0; i < count; i++) failed.Add(await DashboardPlatform.RunAsync(tenant, job));
        foreach (var id in failed) await DashboardPlatform.WaitForStatusAsync(tenant, id, ExecutionStatus.Failed, TimeSpan.FromSeconds(60));
        return (tenant, job, failed);
    }

    private async Task ShowsDeadLettersOfAsync(IReadOnlyList<Guid> executions)
    {
        await Expect(Rows).ToHaveCountAsync(executions.Count);
        foreach (var id in executions) await Expect(Rows.Locator($"a[href='/ui/executions/{id}']")).ToHaveCountAsync(1);
    }

    [Fact]
    public async Task Retrying_the_selection_empties_the_list_and_runs_each_again()
    {
        using var gate = new Gate();
        var (tenant, _, failed) = await DeadLettersAsync("retries-selected", "needs-the-gate", gate, 3);
        await SignInAsync(tenant.ApiKey);
        await Page.GotoAsync("/ui/dead-letters");
        await ShowsDeadLettersOfAsync(failed);

        gate.Open();
        await Page.GetByRole(AriaRole.Checkbox, new() { Name = "Select every dead letter on this page" }).CheckAsync();
        foreach (var box in await Rows.GetByRole(AriaRole.Checkbox).AllAsync()) await Expect(box).ToBeCheckedAsync();
        await Page.GetByRole(AriaRole.Button, new() { Name = "Retry selected" }).ClickAsync();

        await Expect(Page.GetByRole(AriaRole.Status)).ToHaveTextAsync("Retries submitted: 3.");
        await Expect(Main).ToContainTextAsync("No dead letters.");
        await Expect(Rows).ToHaveCountAsync(0);

        await NewExecutionsSucceedAsync(failed);
    }

    [Fact]
    public async Task Retry_all_asks_with_the_count_then_empties_the_list()
    {
        using var gate = new Gate();
        var (tenant, _, failed) = await DeadLettersAsync("retries-all", "needs-the-gate", gate, 2);
        await SignInAsync(tenant.ApiKey);
        await Page.GotoAsync("/ui/dead-letters");
        await ShowsDeadLettersOfAsync(failed);

        gate.Open();
        await Page.GetByRole(AriaRole.Button, new() { Name = "Retry all…" }).ClickAsync();

        // Nothing is retried until the count is confirmed.
        await Expect(Page.GetByRole(AriaRole.Heading, new() { Name = "Retry 2 dead letters?" })).ToBeVisibleAsync();
        await ShowsDeadLettersOfAsync(failed);
        await Page.GetByRole(AriaRole.Button, new() { Name = "Retry 2 dead letters" }).ClickAsync();

        await Expect(Page.GetByRole(AriaRole.Status)).ToHaveTextAsync("Retries submitted: 2.");
        await Expect(Main).ToContainTextAsync("No dead letters.");
        await NewExecutionsSucceedAsync(failed);
    }

    [Fact]
    public async Task Purge_all_asks_twice_and_a_dismissed_dialog_purges_nothing()
    {
        using var gate = new Gate();
        var (tenant, _, failed) = await DeadLettersAsync("purges", "needs-the-gate", gate, 2);
        await SignInAsync(tenant.ApiKey);
        await Page.GotoAsync("/ui/dead-letters");
        await ShowsDeadLettersOfAsync(failed);

        await Page.GetByRole(AriaRole.Button, new() { Name = "Purge all…" }).ClickAsync();
        await Expect(Page.GetByRole(AriaRole.Heading, new() { Name = "Purge 2 dead letters?" })).ToBeVisibleAsync();
        var purge = Page.GetByRole(AriaRole.Button, new() { Name = "Purge 2 dead letters" });

        var dialogs = new List<string>();
        var accept = false;
        Page.Dialog += async (_, dialog) =>
        {
            dialogs.Add(dialog.Message);
            if (accept) await dialog.AcceptAsync();
            else await dialog.DismissAsync();
        };
        await purge.ClickAsync();
        Assert.Equal(["Purge 2 dead letters? This cannot be undone."], dialogs);
        await ShowsDeadLettersOfAsync(failed);
        Assert.Equal(2, (await tenant.Client.ListDlqAsync(null, null, null, CancellationToken.None)).Value.Count);

        accept = true;
        await purge.ClickAsync();

        await Expect(Page.GetByRole(AriaRole.Status)).ToHaveTextAsync("Dead letters purged: 2.");
        await Expect(Main).ToContainTextAsync("No dead letters.");
        Assert.Equal(2, dialogs.Count);
        Assert.Empty((await tenant.Client.ListDlqAsync(null, null, null, CancellationToken.None)).Value);
    }

    /// <summary>
    /// Each failed execution's page names the execution its retry made; that one succeeds, and the
    /// job's executions list shows the failed runs and their retries.
    /// </summary>
    private async Task NewExecutionsSucceedAsync(IReadOnlyList<Guid> failed)
    {
        foreach (var id in failed)
        {
            await Page.GotoAsync($"/ui/executions/{id}");
            await Expect(Main).ToContainTextAsync("retried as");
            await Page.Locator("dd", new() { HasText = "retried as" }).GetByRole(AriaRole.Link).ClickAsync();
            await Expect(Page).Not.ToHaveURLAsync(new System.Text.RegularExpressions.Regex(id.ToString()));
            await Expect(Page.Locator("[data-live-status]")).ToHaveTextAsync(ExecutionStatus.Succeeded, new() { Timeout = 30_000 });
            await Expect(Main).ToContainTextAsync("Created by retrying a dead letter");
        }
        await Page.GotoAsync("/ui/executions?job=needs-the-gate");
        var statuses = Page.Locator("table.executions tbody tr .status");
        await Expect(statuses.GetByText(ExecutionStatus.Failed, new() { Exact = true })).ToHaveCountAsync(failed.Count);
        await Expect(statuses.GetByText(ExecutionStatus.Succeeded, new() { Exact = true })).ToHaveCountAsync(failed.Count);
    }
}
