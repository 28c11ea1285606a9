using Jobplane.Api;
using Jobplane.Testing.Dashboard;

namespace Jobplane.Dashboard.Screenshots;

/// <summary>What the screenshots show: two tenants, one worker, and executions in every state a reader meets first.</summary>
internal sealed record DemoData(PlatformTenant Tenant, Guid LiveExecution)
{
    public static async Task<DemoData> CreateAsync(DashboardPlatform platform)
    {
        await platform.StartWorkerAsync("worker-eu-1");
        var acme = await platform.CreateTenantAsync("acme");
        await platform.CreateTenantAsync("globex");

        var report = await DashboardPlatform.CreateJobAsync(acme, "nightly-report",
            ["sh", "-c", "echo 'collecting yesterday''s orders'; echo 'wrote report-2026-12-03.csv (1,204 rows)'"]);
        var import = await DashboardPlatform.CreateJobAsync(acme, "import-orders",
            ["sh", "-c", "echo 'reading orders.csv'; echo 'orders.csv line 42: invalid date \"2026-13-01\"' >&2; exit 3"], maxAttempts: 2);
        var resize = await DashboardPlatform.CreateJobAsync(acme, "resize-images",
            ["sh", "-c", "for i in $(seq 1 900); do echo \"resized image $i of 900\"; sleep 0.4; done"]);
        var backup = await DashboardPlatform.CreateJobAsync(acme, "weekly-backup", ["sh", "-c", "echo 'backup done'"]);

        var done = new List<Guid>();
        for (var i = 0; i < 4; i++) done.Add(await DashboardPlatform.RunAsync(acme, report));
        var failed = new List<Guid>();
        for (var i = 0; i < 3; i++) failed.Add(await DashboardPlatform.RunAsync(acme, import));
        await DashboardPlatform.RunAsync(acme, backup, new RunJobRequest { ScheduledAt = DateTimeOffset.UtcNow.AddHours(6) });
        foreach (var id in done) await DashboardPlatform.WaitForStatusAsync(acme, id, ExecutionStatus.Succeeded, TimeSpan.FromSeconds(60));
        foreach (var id in failed) await DashboardPlatform.WaitForStatusAsync(acme, id, ExecutionStatus.Failed, TimeSpan.FromSeconds(60));

        var live = await DashboardPlatform.RunAsync(acme, resize);
        await DashboardPlatform.WaitForStatusAsync(acme, live, ExecutionStatus.Running, TimeSpan.FromSeconds(60));
        return new DemoData(acme, live);
    }
}
