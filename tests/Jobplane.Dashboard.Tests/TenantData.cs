using System.Text;
using Jobplane.Api;

namespace Jobplane.Dashboard.Tests;

/// <summary>
/// A tenant with one of each thing the pages show, on the platform's exec worker: an execution that
/// succeeded with a log and a result, one that failed after a retry (a dead letter), one running
/// (with a log line, for ten minutes unless cancelled), one scheduled for later, and a schedule
/// triggered once. Every name starts with the tenant's, so a page can be searched for any of them.
/// </summary>
public sealed record TenantData(
    PlatformTenant Tenant,
    Guid ReportJob, Guid ImportJob, Guid ResizeJob,
    Guid Succeeded, Guid Failed, Guid Running, Guid Scheduled, Guid Triggered,
    ScheduleView Schedule)
{
    public string ReportJobName => Tenant.Name + "-report";
    public string ImportJobName => Tenant.Name + "-import";
    public string ResizeJobName => Tenant.Name + "-resize";
    public string ScheduleName => Tenant.Name + "-hourly";

    /// <summary>The first line the running execution prints (and the only one for ten minutes).</summary>
    public string RunningLine => LineOf(Tenant.Name);

    private static string LineOf(string tenant) => $"{tenant} resized image 1 of 900";

    public static async Task<TenantData> CreateAsync(DashboardPlatform platform, string name)
    {
        await platform.WorkerAsync();
        var tenant = await platform.CreateTenantAsync(name);
        var report = await DashboardPlatform.CreateJobAsync(tenant, name + "-report",
            ["sh", "-c", "echo 'collecting orders'; echo '{\"rows\": 1204, \"file\": \"report.csv\"}' > \"$JOBPLANE_OUTPUT_DIR/result.json\"; echo 'wrote report.csv'"]);
        var import = await DashboardPlatform.CreateJobAsync(tenant, name + "-import",
            ["sh", "-c", "echo 'reading orders.csv'; echo 'orders.csv line 42: invalid date' >&2; exit 3"], maxAttempts: 2);
        var resize = await DashboardPlatform.CreateJobAsync(tenant, name + "-resize",
            ["sh", "-c", $"echo '{LineOf(name)}'; exec sleep 600"]);

        var succeeded = await DashboardPlatform.RunAsync(tenant, report);
        var failed = await DashboardPlatform.RunAsync(tenant, import);
        var running = await DashboardPlatform.RunAsync(tenant, resize);
        var scheduled = await DashboardPlatform.RunAsync(tenant, report, new RunJobRequest { ScheduledAt = DateTimeOffset.UtcNow.AddHours(6) });
        var schedule = await DashboardPlatform.CreateScheduleAsync(tenant, name + "-hourly", report);
        var triggered = (await tenant.Client.TriggerScheduleAsync(schedule.Id, CancellationToken.None)).Value.ExecutionId;

        await DashboardPlatform.WaitForStatusAsync(tenant, succeeded, ExecutionStatus.Succeeded, TimeSpan.FromSeconds(60));
        await DashboardPlatform.WaitForStatusAsync(tenant, failed, ExecutionStatus.Failed, TimeSpan.FromSeconds(60));
        await DashboardPlatform.WaitForStatusAsync(tenant, triggered, ExecutionStatus.Succeeded, TimeSpan.FromSeconds(60));
        await DashboardPlatform.WaitForStatusAsync(tenant, running, ExecutionStatus.Running, TimeSpan.FromSeconds(60));
        return new TenantData(tenant, report, import, resize, succeeded, failed, running, scheduled, triggered, schedule);
    }

    /// <summary>Every name and id of this tenant's that a page could show, ids also as the pages shorten them (their last 8 digits).</summary>
    public IEnumerable<string> Traces()
    {
        Guid[] ids = [Tenant.Id, ReportJob, ImportJob, ResizeJob, Schedule.Id, Succeeded, Failed, Running, Scheduled, Triggered];
        return [Tenant.Name, ReportJobName, ImportJobName, ResizeJobName, ScheduleName, RunningLine,
            .. ids.Select(id => id.ToString()), .. ids.Select(id => id.ToString()[^8..])];
    }

    /// <summary>
    /// What the platform holds of this tenant, read through the API (its own key, and the
    /// administrator's): compared before and after, it shows whether anything changed.
    /// </summary>
    public async Task<string> SnapshotAsync(DashboardPlatform platform)
    {
        var ct = CancellationToken.None;
        var text = new StringBuilder();
        foreach (var e in (await Tenant.Client.ListExecutionsAsync(null, null, 100, null, null, ct)).Value.Executions.OrderBy(e => e.Id))
            text.Append("execution ").Append(e.Id).Append(' ').Append(e.Status).Append(' ').Append(e.CancelRequestedAt).AppendLine();
        foreach (var d in (await Tenant.Client.ListDlqAsync(null, null, null, ct)).Value)
            text.Append("dead letter ").Append(d.Id).AppendLine();
        var schedule = (await Tenant.Client.GetScheduleAsync(Schedule.Id, ct)).Value;
        text.Append("schedule ").Append(schedule.State).Append(' ').Append(schedule.PausedAt).Append(' ').Append(schedule.LastExecutionId).AppendLine();
        text.Append("fires ").Append((await Tenant.Client.GetScheduleHistoryAsync(Schedule.Id, 100, null, ct)).Value.Fires.Count).AppendLine();
        var tenant = (await platform.Admin.GetTenantAsync(Tenant.Id, ct)).Value;
        text.Append("tenant ").Append(tenant.Name).Append(' ').Append(tenant.Suspended).Append(' ').Append(tenant.Weight).AppendLine();
        foreach (var k in (await platform.Admin.ListApiKeysAsync(Tenant.Id, 100, null, ct)).Value.ApiKeys)
            text.Append("key ").Append(k.Id).Append(' ').Append(k.RevokedAt).AppendLine();
        text.Append("credentials ").Append((await platform.Admin.ListWorkerCredentialsAsync(100, null, ct)).Value.WorkerCredentials.Count).AppendLine();
        foreach (var entry in (await platform.Admin.ListAuditAsync(Tenant.Id, null, 100, ct)).Value.Entries)
            text.Append("audit ").Append(entry.Id).Append(' ').Append(entry.Actor).Append(' ').Append(entry.Action).Append(' ').Append(entry.Target).AppendLine();
        return text.ToString();
    }

    /// <summary>Cancels the running execution, freeing the worker's slot for the tests after.</summary>
    public Task StopAsync() => Tenant.Client.CancelExecutionAsync(Running, CancellationToken.None);
}
