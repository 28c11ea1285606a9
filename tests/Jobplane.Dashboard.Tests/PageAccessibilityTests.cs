using Jobplane.Api;

namespace Jobplane.Dashboard.Tests;

/// <summary>
/// axe-core on every page of the dashboard, as a tenant and as the administrator, each page showing
/// real data (executions in every state, a live log, a result, a timeline with a retry, a dead
/// letter, a schedule with history, a worker, keys and credentials) and each confirmation step. No
/// violation at any impact; every page's counts go to the report. And at a common window
/// width no page scrolls sideways: wide tables scroll in their own region.
/// </summary>
public sealed class PageAccessibilityTests(DashboardPlatform platform, DashboardBrowser browser) : BrowserTest(platform, browser)
{
    [Fact]
    public async Task Every_page_a_tenant_sees_passes_axe()
    {
        var data = await TenantData.CreateAsync(Platform, "a11y-tenant");
        try
        {
            await SignInAsync(data.Tenant.ApiKey);
            var axe = new AxeSweep(Page);
            await VisitSharedPagesAsync(axe, data, "tenant", "");

            await axe.VisitAsync("job, with the run form, tenant", $"/ui/jobs/{data.ReportJob}", data.ReportJobName);
            await Expect(Page.GetByRole(AriaRole.Button, new() { Name = "Run now" })).ToBeVisibleAsync();

            await axe.VisitAsync("dead letters, tenant", "/ui/dead-letters", data.ImportJobName);
            await Page.GetByRole(AriaRole.Button, new() { Name = "Purge all…" }).ClickAsync();
            await Expect(Page.GetByRole(AriaRole.Heading, new() { Name = "Purge 1 dead letters?" })).ToBeVisibleAsync();
            await axe.CheckAsync("dead letters, purge confirmation, tenant");
            await Page.GetByRole(AriaRole.Link, new() { Name = "Cancel" }).ClickAsync();
            await Page.GetByRole(AriaRole.Button, new() { Name = "Retry all…" }).ClickAsync();
            await Expect(Page.GetByRole(AriaRole.Heading, new() { Name = "Retry 1 dead letters?" })).ToBeVisibleAsync();
            await axe.CheckAsync("dead letters, retry confirmation, tenant");

            await axe.VisitAsync("executions, running, tenant", "/ui/executions?status=RUNNING", data.ResizeJobName);
            await Page.GetByRole(AriaRole.Button, new() { Name = "Cancel all matching…" }).ClickAsync();
            await Expect(Page.GetByRole(AriaRole.Heading, new() { Name = "Cancel 1 matching execution?" })).ToBeVisibleAsync();
            await axe.CheckAsync("executions, cancel confirmation, tenant");

            // The administration is no page for a tenant: the dashboard's own 404, with a way back.
            var missing = await Page.GotoAsync("/ui/admin");
            Assert.Equal(404, missing?.Status);
            await Expect(Page.GetByRole(AriaRole.Heading, new() { Name = "Not found" })).ToBeVisibleAsync();
            await axe.CheckAsync("not found (a tenant asking for the administration)");
            await Page.GetByRole(AriaRole.Link, new() { Name = "Back to the overview" }).ClickAsync();
            await Expect(Page).ToHaveURLAsync(new System.Text.RegularExpressions.Regex("/ui$"));
            axe.AssertNoneFailed();
        }
        finally
        {
            await data.StopAsync();
        }
    }

    [Fact]
    public async Task Every_page_the_administrator_sees_passes_axe()
    {
        var data = await TenantData.CreateAsync(Platform, "a11y-admin");
        await Platform.Admin.CreateApiKeyAsync(data.Tenant.Id, "a11y-viewer", CancellationToken.None, readOnly: true);
        await Platform.Admin.CreateWorkerCredentialAsync(new CreateWorkerCredentialRequest { Name = "a11y-eu-fleet", TenantIds = [data.Tenant.Id] },
            CancellationToken.None);
        try
        {
            await SignInAsync(DashboardPlatform.AdminSecret);
            var axe = new AxeSweep(Page);
            var tenant = $"tenant={data.Tenant.Id}";
            await VisitSharedPagesAsync(axe, data, "administrator", "&" + tenant);

            await axe.VisitAsync("job, administrator", $"/ui/jobs/{data.ReportJob}", data.ReportJobName, "The administrator views jobs");
            await axe.VisitAsync("dead letters, every tenant, administrator", "/ui/dead-letters", data.ImportJobName);
            await axe.VisitAsync("dead letters, one tenant, administrator", $"/ui/dead-letters?{tenant}", data.ImportJobName);
            await Page.GetByRole(AriaRole.Button, new() { Name = "Purge all…" }).ClickAsync();
            await Expect(Page.GetByRole(AriaRole.Heading, new() { Name = "Purge 1 dead letters of tenant a11y-admin?" })).ToBeVisibleAsync();
            await axe.CheckAsync("dead letters, purge confirmation, administrator");

            await axe.VisitAsync("administration, tenants", "/ui/admin", data.Tenant.Name);
            await axe.VisitAsync("administration, tenant", $"/ui/admin/tenants/{data.Tenant.Id}", "a11y-viewer", "Save limits");
            await axe.VisitAsync("administration, worker credentials", "/ui/admin/credentials", "a11y-eu-fleet");
            await axe.VisitAsync("administration, audit log", "/ui/admin/audit", "a11y-eu-fleet");
            axe.AssertNoneFailed();
        }
        finally
        {
            await data.StopAsync();
        }
    }

    // A wide table scrolls inside its own box; the page never scrolls sideways at 1280 px (the
    // executions list's table once made it 1,454 px wide, and the header stopped short of it).
    [Fact]
    public async Task No_page_is_wider_than_the_window()
    {
        var data = await TenantData.CreateAsync(Platform, "layout-tenant");
        try
        {
            var wide = new List<string>();
            async Task MeasureAsync(string path)
            {
                await Page.GotoAsync(path);
                await Expect(Page.Locator("main h1")).ToBeVisibleAsync();
                var size = await Page.EvaluateAsync<int[]>("() => [document.documentElement.scrollWidth, window.innerWidth]");
                if (size[0] > size[1]) wide.Add($"{path}: {size[0]} px in a {size[1]} px window");
            }
            await SignInAsync(data.Tenant.ApiKey);
            foreach (var path in Paths(data)) await MeasureAsync(path);
            await Context.ClearCookiesAsync();
            await SignInAsync(DashboardPlatform.AdminSecret);
            foreach (var path in Paths(data).Concat(["/ui/admin", $"/ui/admin/tenants/{data.Tenant.Id}", "/ui/admin/credentials", "/ui/admin/audit"])) await MeasureAsync(path);
            Assert.True(wide.Count == 0, string.Join("\n", wide));
        }
        finally
        {
            await data.StopAsync();
        }
    }

    private static string[] Paths(TenantData data) =>
    [
        "/ui", "/ui/executions", $"/ui/executions/{data.Running}", $"/ui/executions/{data.Failed}", "/ui/jobs", $"/ui/jobs/{data.ReportJob}",
        "/ui/schedules", $"/ui/schedules/{data.Schedule.Id}", "/ui/dead-letters", "/ui/workers",
    ];

    // A table's scrolling wrapper takes keyboard focus and has a name (axe's serious
    // scrollable-region-focusable, found on this page with a worker listed).
    [Fact]
    public async Task The_workers_page_passes_axe_for_a_tenant_and_the_administrator()
    {
        var tenant = await Platform.CreateTenantAsync("a11y-workers");
        await Platform.WorkerAsync();
        var axe = new AxeSweep(Page);
        await SignInAsync(tenant.ApiKey);
        await axe.VisitAsync("workers, tenant", "/ui/workers", "connected");
        await Context.ClearCookiesAsync();
        await SignInAsync(DashboardPlatform.AdminSecret);
        await axe.VisitAsync("workers, administrator", "/ui/workers", "connected");
        axe.AssertNoneFailed();
    }

    /// <summary>The pages both see, the administrator's filtered to the tenant by <paramref name="tenantQuery"/>.</summary>
    private async Task VisitSharedPagesAsync(AxeSweep axe, TenantData data, string who, string tenantQuery)
    {
        await axe.VisitAsync($"overview, last hour, {who}", "/ui?range=hour", "Succeeded");
        await axe.VisitAsync($"overview, last day, {who}", "/ui?range=day", "Succeeded");
        await axe.VisitAsync($"executions, {who}", "/ui/executions", data.ResizeJobName, data.ImportJobName);
        await axe.VisitAsync($"executions, filtered by status, {who}", $"/ui/executions?status=FAILED{tenantQuery}", data.ImportJobName);
        await axe.VisitAsync($"execution, running with its live log, {who}", $"/ui/executions/{data.Running}", data.RunningLine, "RUNNING");
        await axe.VisitAsync($"execution, succeeded with result and timeline, {who}", $"/ui/executions/{data.Succeeded}",
            "Attempt 1 succeeded.", "1204", "wrote report.csv");
        await axe.VisitAsync($"execution, failed after a retry, {who}", $"/ui/executions/{data.Failed}",
            "before the retry became due", "went to the dead letters", "invalid date");
        await axe.VisitAsync($"execution, scheduled for later, {who}", $"/ui/executions/{data.Scheduled}", "SCHEDULED");
        await axe.VisitAsync($"jobs, {who}", "/ui/jobs", data.ReportJobName, data.ImportJobName, data.ResizeJobName);
        await axe.VisitAsync($"schedules, {who}", "/ui/schedules", data.ScheduleName);
        await axe.VisitAsync($"schedule, with history, {who}", $"/ui/schedules/{data.Schedule.Id}", data.ScheduleName, "manual");
    }
}
